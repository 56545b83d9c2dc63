/**
 * Compiles every kernel variant on Dawn's null backend, which validates every call and compiles
 * every WGSL shader but runs nothing: cheap, and catches a shader that only breaks for some
 * shapes, dtypes or page counts.
 */
import { describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { useDevice } from './helpers.ts';

// Small pages so that the paged accessors are compiled too.
useDevice({ flags: ['backend=null'], maxBindingBytes: 4096 });

describe('every kernel variant compiles (backend=null)', () => {
  it('elementwise, reductions, softmax, matmul, layout, random', async () => {
    const shapes = [[7], [3, 5], [2, 3, 300], [1000]];
    for (const s of shapes) {
      const x = T.zeros(s);
      for (const op of Object.keys(T.unaryOps) as T.UnaryOp[]) T.unary(op, x);
      for (const op of Object.keys(T.binaryOps) as T.BinaryOp[]) {
        T.binary(op, x, x);
        T.binary(op, x, 2);
        T.binary(op, 3, x);
      }
      T.where(x, x, 1);
      T.clamp(x, -1, 1);
      for (let a = 0; a < s.length; a++) {
        T.sum(x, a);
        T.mean(x, a, true);
        T.max(x, a);
        T.min(x, a);
        T.argmax(x, a);
        T.argmin(x, a);
        T.softmax(x, a);
        T.logSoftmax(x, a);
        if (s[a] > 1) T.variance(x, a);
      }
      T.sum(x);
      T.transpose(T.reshape(x, [s[0], -1]));
      T.slice(x, [{ start: 1 }]);
      T.concat([x, x], -1);
      T.pad(x, [1, 2]);
      T.rand(s);
      T.randn(s);
      T.randint(0, 5, s);
      T.cast(T.cast(x, 'int32'), 'float32');
    }
    for (const [m, k, n] of [
      [1, 1, 1],
      [3, 17, 5],
      [33, 20, 31],
      [2, 300, 4],
    ]) {
      T.matmul(T.zeros([m, k]), T.zeros([k, n]));
      T.matmul(T.zeros([k, m]), T.zeros([n, k]), { transA: true, transB: true });
      T.matmul(T.zeros([2, 1, 3, k]), T.zeros([3, k, 5]));
    }
    T.oneHot(T.zeros([4], 'int32'), 3);
    T.indexSelect(T.zeros([5, 3]), 0, T.zeros([2], 'int32'));
    await expect(T.sync()).resolves.toBeUndefined();
    expect(T.memoryStats().pipelines).toBeGreaterThan(100);
  });

  it('backward, optimizer and in-place kernels, plain and paged', async () => {
    for (const s of [[7], [3, 5], [2, 3, 300], [1000]]) {
      const x = T.zeros(s);
      for (const f of [T.reluBackward, T.sigmoidBackward, T.tanhBackward, T.sqrtBackward, T.rsqrtBackward, T.squareBackward, T.absBackward]) f(x, x);
      T.softplusBackward(x, x);
      T.powScalarBackward(x, x, 2);
      T.clampBackward(x, x, 0, 1);
      T.divisorBackward(x, x, 2);
      T.sgdStep(T.zeros(s), x, null, { lr: 1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true });
      T.sgdStep(T.zeros(s), x, T.zeros(s), { lr: 1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: true, firstStep: false });
      for (const decoupledWeightDecay of [false, true]) {
        T.adamStep(T.zeros(s), x, T.zeros(s), T.zeros(s), { lr: 1, betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0, decoupledWeightDecay, step: 1 });
      }
      T.copyInto(T.zeros(s), x);
      T.increment(T.zeros(s, 'int32'));
    }
    await expect(T.sync()).resolves.toBeUndefined();
  });

  it('conv weight-gradient split-K variants (chunked, strided, GPU-like auto plan)', async () => {
    const shapes: [number[], number[], T.Conv2dOptions][] = [
      [[2, 5, 13, 17], [7, 5, 3, 3], { stride: 2, padding: 1 }],
      [[2, 3, 17, 13], [5, 3, 7, 7], { stride: 2, padding: 3 }],
      [[2, 6, 9, 7], [6, 1, 3, 3], { padding: 2, dilation: 2, groups: 6 }],
      [[2, 8, 6, 6], [8, 8, 3, 3], { padding: 1 }],
    ];
    try {
      for (const tilesSetting of [{ wSplit: 3 }, { wSplit: 1000 }, { wTarget: 65536 }, { wTarget: 0 }]) {
        T.resetConvTiles();
        T.setConvTiles(tilesSetting);
        for (const [xs, ws, o] of shapes) {
          const g = T.convGeometry('t', xs, ws, o);
          T.conv2dBackwardWeight(T.zeros([g.N, g.O, g.OH, g.OW]), T.zeros(xs), ws, o);
        }
      }
    } finally {
      T.resetConvTiles();
    }
    await expect(T.sync()).resolves.toBeUndefined();
  });

  it('a shader that does not compile is an error naming the op', async () => {
    T.runKernel({
      name: 'brokenKernel',
      body: '@compute @workgroup_size(1) fn main() { let x: f32 = undefinedThing; }',
      outputs: { out: T.zeros([1]) },
      workgroups: [1, 1, 1],
    });
    await expect(T.sync()).rejects.toThrow(/brokenKernel/);
  });
});
