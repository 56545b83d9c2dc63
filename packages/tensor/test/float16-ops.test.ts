import { afterAll, describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { roundToHalf } from '../src/float16.ts';
import { setMaxPool2dBackwardForm } from '../src/ops/pool/pool.ts';
import { setReduceSplitTarget } from '../src/ops/reduce/reduce.ts';
import { randomArray, relErr, sizeOf, useDevice } from './helpers.ts';
import { refBatchNorm, refBatchNormBackward } from './reference/norm.ts';
import { refAdaptiveAvgPool, refAdaptiveAvgPoolBackward, refMaxPool, refMaxPoolBackward, type RefPool } from './reference/pool.ts';
import { reduceRef, softmaxRef } from './reference/reduce.ts';
import { refIndexSelectBackward, refSoftmaxBackward, refSumToShape } from './reference/grad.ts';
import { mapN } from './reference/elementwise.ts';

useDevice();

// Float16 storage, f32 arithmetic: inputs are rounded to f16 on upload, so the float64 references
// are computed on those rounded values; what is left is the rounding of each output to f16 (a
// relative step of 2^-11 ≈ 4.9e-4, so a norm-wise relative error of at most ~2.9e-4) plus f32
// accumulation. 2e-3 leaves room for that and is far below what a wrong kernel gives.
const tol = 2e-3;
/** float32 results computed from float16 inputs (batch-norm statistics and parameter gradients): only f32 rounding. */
const tol32 = 1e-4;

const worst = new Map<string, number>();
function close(family: string, got: ArrayLike<number>, ref: ArrayLike<number>, limit = tol): void {
  const e = relErr(got, ref);
  worst.set(family, Math.max(worst.get(family) ?? 0, e));
  expect(e).toBeLessThan(limit);
}
afterAll(() => {
  console.log(`float16 ops, largest relErr per family: ${JSON.stringify(Object.fromEntries(worst))}`);
});

const half = (xs: ArrayLike<number>) => Float32Array.from(xs, roundToHalf);
/** A float16 tensor of random values and the (rounded) values it holds. */
function h16(shape: number[], seed: number, lo = -1, hi = 1): { t: T.Tensor; v: Float32Array } {
  const v = half(randomArray(sizeOf(shape), seed, lo, hi));
  return { t: T.tensor(v, shape, 'float16'), v };
}

describe('float16 elementwise and pointwise gradients', () => {
  // 945 elements: scalar kernels; 120: the vec4 form.
  for (const shape of [
    [3, 5, 7, 9],
    [4, 6, 5],
  ]) {
    it(`relu and reluBackward ${JSON.stringify(shape)}`, async () => {
      const x = h16(shape, 1);
      const dy = h16(shape, 2);
      const y = T.relu(x.t);
      expect(y.dtype).toBe('float16');
      close(
        'elementwise',
        await y.toArray(),
        Array.from(x.v, (v) => Math.max(v, 0)),
      );
      const dx = T.reluBackward(dy.t, x.t);
      expect(dx.dtype).toBe('float16');
      close(
        'elementwise',
        await dx.toArray(),
        Array.from(x.v, (v, i) => (v > 0 ? dy.v[i] : 0)),
      );
    });

    it(`add, sub, mul, div, neg and scalar ops keep float16 ${JSON.stringify(shape)}`, async () => {
      const a = h16(shape, 3);
      const b = h16(shape, 4, 0.5, 2);
      const ops: [T.Tensor, (x: number, y: number) => number][] = [
        [T.add(a.t, b.t), (x, y) => x + y],
        [T.sub(a.t, b.t), (x, y) => x - y],
        [T.mul(a.t, b.t), (x, y) => x * y],
        [T.div(a.t, b.t), (x, y) => x / y],
        [T.neg(a.t), (x) => -x],
        [T.mul(a.t, 0.37), (x) => x * Math.fround(0.37)],
        [T.add(a.t, 1.5), (x) => x + 1.5],
        [T.sigmoidBackward(a.t, b.t), (x, y) => x * y * (1 - y)],
      ];
      for (const [out, f] of ops) {
        expect(out.dtype).toBe('float16');
        close(
          'elementwise',
          await out.toArray(),
          Array.from(a.v, (x, i) => f(x, b.v[i])),
        );
      }
    });
  }

  it('broadcasting: float16 + float16 gives float16, float16 + float32 promotes to float32 (as torch)', async () => {
    const a = h16([3, 5, 7, 9], 5);
    const b = h16([7, 1], 6);
    const s = T.add(a.t, b.t);
    expect(s.dtype).toBe('float16');
    close(
      'elementwise',
      await s.toArray(),
      mapN(
        [
          [3, 5, 7, 9],
          [7, 1],
        ],
        [a.v, b.v],
        (x, y) => x + y,
      ).data,
    );
    const c = randomArray(7 * 9, 7);
    const p = T.add(a.t, T.tensor(c, [7, 9]));
    expect(p.dtype).toBe('float32');
    // float32 output: the sum is exact up to f32 rounding.
    close(
      'elementwise-f32',
      await p.toArray(),
      mapN(
        [
          [3, 5, 7, 9],
          [7, 9],
        ],
        [a.v, c],
        (x, y) => x + y,
      ).data,
      1e-6,
    );
    const q = T.mul(T.tensor(c, [7, 9]), a.t);
    expect(q.dtype).toBe('float32');
    close(
      'elementwise-f32',
      await q.toArray(),
      mapN(
        [
          [7, 9],
          [3, 5, 7, 9],
        ],
        [c, a.v],
        (x, y) => x * y,
      ).data,
      1e-6,
    );
    // Same shapes, size a multiple of 4: the vec4 form, mixing a float16 and a float32 operand.
    const v16 = h16([4, 6, 5], 70);
    const v32 = randomArray(120, 71);
    const vs = T.sub(v16.t, T.tensor(v32, [4, 6, 5]));
    expect(vs.dtype).toBe('float32');
    close(
      'elementwise-f32',
      await vs.toArray(),
      Array.from(v16.v, (x, i) => x - v32[i]),
      1e-6,
    );
    // Comparisons give float32 masks; where takes its values' dtype.
    const m = T.gt(a.t, 0);
    expect(m.dtype).toBe('float32');
    const w = T.where(m, a.t, 0);
    expect(w.dtype).toBe('float16');
    close(
      'elementwise',
      await w.toArray(),
      Array.from(a.v, (v) => Math.max(v, 0)),
    );
  });

  it('sumToShape reduces a float16 gradient to float16 (f32 sums)', async () => {
    const g = h16([3, 5, 7, 9], 8);
    for (const shape of [
      [5, 1, 9],
      [7, 9],
      [1, 5, 1, 1],
    ]) {
      const r = T.sumToShape(g.t, shape);
      expect(r.dtype).toBe('float16');
      expect(r.shape).toEqual(shape);
      close('grad', await r.toArray(), refSumToShape(g.v, [3, 5, 7, 9], shape));
    }
    const back = T.meanBackward(T.tensor(half(randomArray(15, 9)), [3, 5], 'float16'), [3, 5, 7], 2);
    expect(back.dtype).toBe('float16');
  });
});

describe('float16 batch norm (float32 weight, bias and running statistics)', () => {
  const shapes: [string, number[], boolean][] = [
    ['7x9, scalar loads', [3, 5, 7, 9], false],
    ['4x6, vec4 loads', [2, 3, 4, 6], false],
    ['21x23, split statistics (5 chunks)', [3, 2, 21, 23], true],
  ];
  for (const [name, shape, split] of shapes) {
    for (const variant of ['plain', 'relu', 'add.relu'] as const) {
      it(`${name}, training ${variant}, and its backward`, async () => {
        T.setBatchNormSplitTarget(split ? 1 << 30 : null);
        try {
          const C = shape[1];
          const x = h16(shape, 10 + C, 2, 5);
          const ws = randomArray(C, 11, 0.5, 1.5);
          const bs = randomArray(C, 12, -1, 1);
          const rms = randomArray(C, 13, -0.5, 0.5);
          const rvs = randomArray(C, 14, 0.5, 2);
          const residual = variant === 'add.relu' ? h16(shape, 15) : null;
          const runningMean = T.tensor(rms, [C]);
          const runningVar = T.tensor(rvs, [C]);
          const weight = T.tensor(ws, [C]);
          const res = T.batchNorm2d(x.t, {
            weight,
            bias: T.tensor(bs, [C]),
            runningMean,
            runningVar,
            training: true,
            residual: residual?.t,
            relu: variant !== 'plain',
          });
          expect(res.out.dtype).toBe('float16');
          expect(res.saveMean.dtype).toBe('float32');
          expect(res.saveInvstd.dtype).toBe('float32');
          expect(runningMean.dtype).toBe('float32');
          const ref = refBatchNorm(x.v, shape, ws, bs, rms, rvs, true);
          const refOut = Array.from(ref.out, (v, i) => {
            const r = v + (residual ? residual.v[i] : 0);
            return variant === 'plain' ? r : Math.max(r, 0);
          });
          const out = await res.out.toArray();
          close('batchnorm', out, refOut);
          close('batchnorm-f32', await res.saveMean.toArray(), ref.mean, tol32);
          close('batchnorm-f32', await res.saveInvstd.toArray(), ref.invstd, tol32);
          close('batchnorm-f32', await runningMean.toArray(), ref.runningMean, tol32);
          close('batchnorm-f32', await runningVar.toArray(), ref.runningVar, tol32);

          const dy = h16(shape, 16);
          const g = T.batchNorm2dBackward(dy.t, x.t, weight, res.saveMean, res.saveInvstd, { reluOut: variant === 'plain' ? null : res.out });
          expect(g.dx.dtype).toBe('float16');
          expect(g.dweight.dtype).toBe('float32');
          expect(g.dbias.dtype).toBe('float32');
          // The ReLU's mask from the kernel's own output (a reference output a rounding away from 0 could flip it).
          const dyIn = variant === 'plain' ? dy.v : Array.from(dy.v, (v, i) => (out[i] > 0 ? v : 0));
          const rg = refBatchNormBackward(dyIn, x.v, shape, ws, ref.mean, ref.invstd, true);
          close('batchnorm', await g.dx.toArray(), rg.dx);
          close('batchnorm-f32', await g.dweight.toArray(), rg.dweight, tol32);
          close('batchnorm-f32', await g.dbias.toArray(), rg.dbias, tol32);
        } finally {
          T.setBatchNormSplitTarget(null);
        }
      });
    }
  }

  it('eval form and its backward', async () => {
    const shape = [3, 5, 7, 9];
    const C = 5;
    const x = h16(shape, 20, -2, 2);
    const ws = randomArray(C, 21, 0.5, 1.5);
    const bs = randomArray(C, 22, -1, 1);
    const rms = randomArray(C, 23, -0.5, 0.5);
    const rvs = randomArray(C, 24, 0.5, 2);
    const weight = T.tensor(ws, [C]);
    const res = T.batchNorm2d(x.t, { weight, bias: T.tensor(bs, [C]), runningMean: T.tensor(rms, [C]), runningVar: T.tensor(rvs, [C]), training: false });
    expect(res.out.dtype).toBe('float16');
    const ref = refBatchNorm(x.v, shape, ws, bs, rms, rvs, false);
    close('batchnorm', await res.out.toArray(), ref.out);
    const dy = h16(shape, 25);
    const g = T.batchNorm2dBackward(dy.t, x.t, weight, res.saveMean, res.saveInvstd, { training: false });
    expect(g.dx.dtype).toBe('float16');
    const rg = refBatchNormBackward(dy.v, x.v, shape, ws, ref.mean, ref.invstd, false);
    close('batchnorm', await g.dx.toArray(), rg.dx);
    close('batchnorm-f32', await g.dweight.toArray(), rg.dweight, tol32);
    close('batchnorm-f32', await g.dbias.toArray(), rg.dbias, tol32);
  });
});

describe('float16 pooling', () => {
  const geo = (k: number, s: number, p = 0): RefPool => ({ kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, dh: 1, dw: 1, ceil: false });
  const cases: [string, number[], RefPool][] = [
    ['3/2 pad 1 (ResNet, overlapping windows)', [2, 3, 9, 11], geo(3, 2, 1)],
    ['2/2 (VGG)', [2, 3, 8, 10], geo(2, 2)],
  ];
  for (const [name, shape, o] of cases) {
    for (const form of ['auto', 'gather', 'scatter'] as const) {
      it(`maxPool2d ${name}, backward form ${form}`, async () => {
        const x = h16(shape, 30);
        const opts = { kernelSize: [o.kh, o.kw] as [number, number], stride: [o.sh, o.sw] as [number, number], padding: [o.ph, o.pw] as [number, number] };
        const { out, indices } = T.maxPool2d(x.t, opts);
        expect(out.dtype).toBe('float16');
        expect(indices.dtype).toBe('int32');
        const ref = refMaxPool(x.v, shape, o);
        // A max is one of the inputs: exact.
        expect(Array.from(await out.toArray())).toEqual(Array.from(ref.out));
        const idx = await indices.toInt32Array();
        expect(Array.from(idx)).toEqual(Array.from(ref.idx));
        const dy = h16(out.shape as number[], 31);
        setMaxPool2dBackwardForm(form);
        try {
          const dx = T.maxPool2dBackward(dy.t, indices, shape, opts);
          expect(dx.dtype).toBe('float16');
          // The scatter form (forced, or 'auto' on a CPU adapter) sums overlapping windows in the
          // float16 dx itself (a rounding per partial sum, at most 4 here): still within the tolerance.
          close(form === 'gather' ? 'pool' : 'pool-scatter', await dx.toArray(), refMaxPoolBackward(dy.v, idx, shape, ref.OH * ref.OW));
        } finally {
          setMaxPool2dBackwardForm('auto');
        }
      });
    }
  }

  it('adaptiveAvgPool2d forward and backward, uneven bins', async () => {
    const shape = [2, 3, 9, 11];
    const x = h16(shape, 32);
    const out = T.adaptiveAvgPool2d(x.t, [4, 5]);
    expect(out.dtype).toBe('float16');
    close('pool', await out.toArray(), refAdaptiveAvgPool(x.v, shape, 4, 5));
    const dy = h16([2, 3, 4, 5], 33);
    const dx = T.adaptiveAvgPool2dBackward(dy.t, shape);
    expect(dx.dtype).toBe('float16');
    close('pool', await dx.toArray(), refAdaptiveAvgPoolBackward(dy.v, shape, 4, 5));
    const g = T.adaptiveAvgPool2d(x.t, [1, 1]);
    close('pool', await g.toArray(), refAdaptiveAvgPool(x.v, shape, 1, 1));
    const a = T.avgPool2d(x.t, { kernelSize: 3, stride: 2, padding: 1 });
    expect(a.dtype).toBe('float16');
    expect(T.avgPool2dBackward(T.zeros(a.shape, 'float16'), shape, { kernelSize: 3, stride: 2, padding: 1 }).dtype).toBe('float16');
  });
});

describe('float16 reductions and softmax', () => {
  const shape = [3, 5, 7, 9];
  for (const split of [false, true]) {
    it(`sum, mean and max keep float16 and accumulate in f32${split ? ' (split into partials)' : ''}`, async () => {
      setReduceSplitTarget(split ? 1 << 30 : null);
      try {
        const x = h16(shape, 40);
        for (const axes of [[0, 2], [3], [0, 1, 2, 3], [1, 2, 3]]) {
          const s = T.sum(x.t, axes);
          const m = T.mean(x.t, axes);
          const mx = T.max(x.t, axes);
          for (const t of [s, m, mx]) expect(t.dtype).toBe('float16');
          const rs = reduceRef(x.v, shape, axes, 0, (a, v) => a + v).data;
          const n = axes.reduce((p, a) => p * shape[a], 1);
          close('reduce', await s.toArray(), rs);
          close(
            'reduce',
            await m.toArray(),
            Array.from(rs, (v) => v / n),
          );
          expect(Array.from(await mx.toArray())).toEqual(Array.from(reduceRef(x.v, shape, axes, -Infinity, Math.max).data));
        }
        const big = h16([5, 3000], 41);
        close('reduce', await T.sum(big.t, 1).toArray(), reduceRef(big.v, [5, 3000], [1], 0, (a, v) => a + v).data);
        // A float16 sum of 3000 values near 1 (~3000) is rounded to a step of 2: f32 accumulation is what keeps it that close.
        const ones = h16([3000], 42, 0.9, 1.1);
        close('reduce', await T.sum(ones.t).toArray(), [ones.v.reduce((a, b) => a + b, 0)]);
        const vr = T.variance(x.t, [0, 2, 3]);
        expect(vr.dtype).toBe('float16');
      } finally {
        setReduceSplitTarget(null);
      }
    });
  }

  for (const axis of [1, 3]) {
    it(`softmax, logSoftmax and their backward over axis ${axis}`, async () => {
      const x = h16(shape, 43, -4, 4);
      const dy = h16(shape, 44);
      for (const log of [false, true]) {
        const y = log ? T.logSoftmax(x.t, axis) : T.softmax(x.t, axis);
        expect(y.dtype).toBe('float16');
        close('softmax', await y.toArray(), softmaxRef(x.v, shape, axis, log));
        const dx = log ? T.logSoftmaxBackward(dy.t, y, axis) : T.softmaxBackward(dy.t, y, axis);
        expect(dx.dtype).toBe('float16');
        close('softmax', await dx.toArray(), refSoftmaxBackward(dy.v, x.v, shape, axis, log));
      }
    });
  }
});

describe('float16 dropout', () => {
  it('the mask is applied consistently: out is 0 or x/(1-p) rounded, backward dy·mask/(1-p)', async () => {
    const shape = [3, 5, 7, 9];
    const p = 0.3;
    const x = h16(shape, 50, 0.5, 2);
    const { out, mask } = T.dropout(x.t, p, { seed: 9 });
    expect(out.dtype).toBe('float16');
    expect(mask.dtype).toBe('float16');
    const m = await mask.toArray();
    const o = await out.toArray();
    expect(m.every((v) => v === 0 || v === 1)).toBe(true);
    const kept = m.reduce((s, v) => s + v, 0) / m.length;
    expect(Math.abs(kept - (1 - p))).toBeLessThan(0.06);
    const scale = Math.fround(1 / (1 - p));
    // The kernel multiplies in f32 and rounds the product to f16: the same two roundings here.
    expect(Array.from(o)).toEqual(Array.from(x.v, (v, i) => (m[i] === 1 ? roundToHalf(Math.fround(v * scale)) : 0)));
    const dy = h16(shape, 51);
    const dx = T.dropoutBackward(dy.t, mask, p);
    expect(dx.dtype).toBe('float16');
    close(
      'dropout',
      await dx.toArray(),
      Array.from(dy.v, (v, i) => (m[i] === 1 ? v / (1 - p) : 0)),
    );
    // The same seed draws the same mask for float32 and float16 inputs.
    const m32 = await T.dropout(T.tensor(x.v, shape), p, { seed: 9 }).mask.toArray();
    expect(Array.from(m32)).toEqual(Array.from(m));
  });
});

describe('float16 layout ops and copies (exact)', () => {
  it('contiguous, permute, transpose, slice, concat, pad, expand, indexSelect and their backward', async () => {
    const shape = [3, 5, 7, 9];
    const x = h16(shape, 60);
    const exact = async (t: T.Tensor, ref: T.Tensor) => {
      expect(t.dtype).toBe('float16');
      expect(t.shape).toEqual(ref.shape);
      expect(Array.from(await t.toArray())).toEqual(Array.from(await ref.toArray()));
    };
    // The float32 form of each op on the same (already rounded) values is the reference: copies are exact.
    const x32 = T.tensor(x.v, shape);
    await exact(T.contiguous(x.t), x32);
    await exact(T.permute(x.t, [0, 2, 3, 1]), T.permute(x32, [0, 2, 3, 1]));
    await exact(T.transpose(x.t, 1, 3), T.transpose(x32, 1, 3));
    await exact(T.slice(x.t, [null, { start: 1, end: 4 }, { start: 2, step: 2 }]), T.slice(x32, [null, { start: 1, end: 4 }, { start: 2, step: 2 }]));
    const y = h16([3, 2, 7, 9], 61);
    const y32 = T.tensor(y.v, [3, 2, 7, 9]);
    const cat = T.concat([x.t, y.t], 1);
    await exact(cat, T.concat([x32, y32], 1));
    await exact(T.pad(x.t, [1, 2, 0, 1], 0.5), T.pad(x32, [1, 2, 0, 1], 0.5));
    await exact(T.expand(T.tensor(half(randomArray(9, 62)), [1, 9], 'float16'), [7, 9]), T.expand(T.tensor(half(randomArray(9, 62)), [1, 9]), [7, 9]));
    const idx = T.tensor(new Int32Array([4, 0, 4, 2]), [4], 'int32');
    await exact(T.indexSelect(x.t, 1, idx), T.indexSelect(x32, 1, idx));
    await exact(T.reshape(x.t, [15, -1]), T.reshape(x32, [15, -1]));
    await exact(T.flatten(x.t, 1), T.flatten(x32, 1));
    const [dx, dy] = T.concatBackward(cat, [shape, [3, 2, 7, 9]], 1);
    await exact(dx!, x32);
    await exact(dy!, y32);
    await exact(T.permuteBackward(T.permute(x.t, [0, 2, 3, 1]), [0, 2, 3, 1]), x32);
    await exact(
      T.sliceBackward(T.slice(x.t, [null, { start: 1, end: 4 }]), shape, [null, { start: 1, end: 4 }]),
      T.sliceBackward(T.slice(x32, [null, { start: 1, end: 4 }]), shape, [null, { start: 1, end: 4 }]),
    );
    await exact(T.padBackward(T.pad(x.t, [1, 2, 0, 1]), shape, [1, 2, 0, 1]), x32);
    // Index 4 twice: a sum in f32, rounded once.
    const sel = T.indexSelect(x.t, 1, idx);
    const isb = T.indexSelectBackward(sel, 1, idx, shape);
    expect(isb.dtype).toBe('float16');
    close('grad', await isb.toArray(), refIndexSelectBackward(await sel.toArray(), shape, 1, [4, 0, 4, 2]));
  });

  it('copyInto a float16 tensor from float16 and (cast) float32 sources', async () => {
    const x = h16([5, 7], 63);
    const dst = T.zeros([35], 'float16');
    T.copyInto(dst, x.t);
    expect(Array.from(await dst.toArray())).toEqual(Array.from(x.v));
    const f = randomArray(35, 64);
    T.copyInto(dst, T.tensor(f, [5, 7]));
    expect(dst.dtype).toBe('float16');
    expect(Array.from(await dst.toArray())).toEqual(Array.from(half(f)));
  });
});
