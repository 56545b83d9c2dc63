// NaN through every kernel family: where PyTorch's result is NaN, ours must be NaN too, never a
// plausible number. Before, WGSL max(x, 0) returned 0 for NaN on lavapipe, so ReLU hid a diverged
// model from its loss, and argmax of a NaN row was 0: training on NaN weights reported
// "accuracy 50%, AUC 0.500" and exited 0.
import { describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { randomArray, useDevice } from './helpers.ts';

useDevice();

/** A random tensor with NaN at the given flat positions. */
function withNaN(shape: number[], at: number[], seed = 1): T.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const host = randomArray(n, seed, -2, 2);
  for (const i of at) host[i] = NaN;
  return T.tensor(host, shape);
}

async function nanCount(t: T.Tensor): Promise<number> {
  return Array.from(await t.toArray()).filter(Number.isNaN).length;
}

describe('NaN propagates as in PyTorch', () => {
  it.each([7, 8])('elementwise unary: every op maps NaN to NaN (relu and clamp included), %i elements', async (n) => {
    // 8 elements run the vec4 forms.
    const x = withNaN([n], [3]);
    for (const op of Object.keys(T.unaryOps) as T.UnaryOp[]) {
      const y = Array.from(await T.unary(op, x).toArray());
      // torch.sign(NaN) is 0 (checked against torch 2.x); every other op gives NaN.
      if (op === 'sign') expect(y[3]).toBe(0);
      else expect(Number.isNaN(y[3]), `${op}(NaN) = ${y[3]}`).toBe(true);
    }
    expect(Number.isNaN((await T.clamp(x, 0, 1).toArray())[3]), 'clamp').toBe(true);
    // ReLU keeps finite values as before: negative to 0, positive unchanged.
    const r = Array.from(await T.relu(T.tensor([-1, 0, 2, NaN], [4])).toArray());
    expect(r.slice(0, 3)).toEqual([0, 0, 2]);
    expect(r[3]).toBeNaN();
  });

  it('elementwise binary: arithmetic, maximum and minimum', async () => {
    const a = withNaN([2, 3], [4]);
    const b = T.tensor(randomArray(6, 2), [2, 3]);
    for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const) {
      expect((await T.binary(op, a, b).toArray())[4], op).toBeNaN();
      expect((await T.binary(op, b, a).toArray())[4], `${op} (NaN second)`).toBeNaN();
    }
  });

  it('reductions: sum, mean, max, min are NaN; argmax/argmin point at the first NaN', async () => {
    // Large enough rows for the workgroup (shared-memory merge) path too.
    // Rows 0 and 1 hold one NaN each; row 2 (when there is one) none.
    for (const [shape, at] of [
      [
        [3, 5],
        [1, 8],
      ],
      [
        [2, 5000],
        [4321, 6000],
      ],
    ] as [number[], number[]][]) {
      const x = withNaN(shape, at);
      for (const f of [T.sum, T.mean, T.max, T.min]) {
        const y = Array.from(await f(x, 1).toArray());
        expect(y.map(Number.isNaN), `${f.name} ${shape}: ${y}`).toEqual(shape[0] === 3 ? [true, true, false] : [true, true]);
      }
      const row = shape[1];
      const am = Array.from(await T.argmax(x, 1).toInt32Array());
      const an = Array.from(await T.argmin(x, 1).toInt32Array());
      expect([am[0], am[1]], `argmax ${shape}`).toEqual([at[0] % row, at[1] % row]);
      expect([an[0], an[1]], `argmin ${shape}`).toEqual([at[0] % row, at[1] % row]);
    }
    // Two NaNs in one row: the first wins, as torch.argmax.
    expect(Array.from(await T.argmax(T.tensor([1, NaN, 5, NaN], [1, 4]), 1).toInt32Array())).toEqual([1]);
    expect(Array.from(await T.argmax(T.tensor([NaN, NaN], [1, 2]), 1).toInt32Array())).toEqual([0]);
  });

  it('softmax and log-softmax rows holding a NaN are NaN', async () => {
    const x = withNaN([2, 4], [1]);
    for (const f of [T.softmax, T.logSoftmax]) {
      const y = Array.from(await f(x, 1).toArray());
      expect(y.slice(0, 4).every(Number.isNaN), `${f.name}`).toBe(true);
      expect(y.slice(4).some(Number.isNaN), `${f.name} clean row`).toBe(false);
    }
  });

  it('matmul and convolution (forward and both gradients)', async () => {
    const a = withNaN([3, 4], [5]);
    const b = T.tensor(randomArray(8, 3), [4, 2]);
    const m = Array.from(await T.matmul(a, b).toArray());
    expect(Number.isNaN(m[2]) && Number.isNaN(m[3])).toBe(true);
    expect(m.filter(Number.isNaN)).toHaveLength(2);
    const x = withNaN([1, 2, 5, 5], [12]);
    const w = T.tensor(randomArray(2 * 2 * 3 * 3, 4), [2, 2, 3, 3]);
    const y = T.conv2d(x, w, null, { padding: 1 });
    expect(await nanCount(y)).toBeGreaterThan(0);
    const dy = T.ones(y.shape);
    expect(await nanCount(T.conv2dBackwardWeight(dy, x, w.shape, { padding: 1 }))).toBeGreaterThan(0);
    const wNaN = withNaN([2, 2, 3, 3], [0]);
    expect(await nanCount(T.conv2dBackwardInput(dy, wNaN, x.shape, { padding: 1 }))).toBeGreaterThan(0);
  });

  it('pooling: max pool picks the NaN, average and adaptive average carry it', async () => {
    const x = withNaN([1, 1, 4, 4], [5]);
    expect(await nanCount(T.maxPool2d(x, { kernelSize: 2 }).out)).toBe(1);
    expect(await nanCount(T.avgPool2d(x, { kernelSize: 2 }))).toBe(1);
    expect(await nanCount(T.adaptiveAvgPool2d(x, [1, 1]))).toBe(1);
  });

  it('batch norm: a NaN in a channel makes that channel NaN (training), and eval keeps it', async () => {
    const x = withNaN([2, 3, 2, 2], [5]); // channel 1
    const bn = T.batchNorm2d(x, { runningMean: T.zeros([3]), runningVar: T.ones([3]), training: true });
    const out = Array.from(await bn.out.toArray());
    const channel = (c: number) => [0, 1].flatMap((n) => out.slice((n * 3 + c) * 4, (n * 3 + c) * 4 + 4));
    expect(channel(1).every(Number.isNaN)).toBe(true);
    expect(channel(0).some(Number.isNaN) || channel(2).some(Number.isNaN)).toBe(false);
    const ev = T.batchNorm2d(x, { runningMean: T.zeros([3]), runningVar: T.ones([3]), training: false });
    expect(await nanCount(ev.out)).toBe(1);
  });

  it('losses: cross-entropy and BCE of NaN logits are NaN, and so are their gradients', async () => {
    const logits = withNaN([2, 3], [1]);
    const labels = T.tensor(new Int32Array([0, 2]), [2], 'int32');
    expect(await T.crossEntropy(logits, labels).item()).toBeNaN();
    expect(await nanCount(T.crossEntropyBackward(logits, labels))).toBeGreaterThan(0);
    const targets = T.tensor([1, 0, 0, 0, 0, 1], [2, 3]);
    expect(await T.binaryCrossEntropyWithLogits(logits, targets).item()).toBeNaN();
    expect(await nanCount(T.binaryCrossEntropyWithLogitsBackward(logits, targets))).toBeGreaterThan(0);
  });

  it('layout, cast-free copies and dropout keep NaN where it was', async () => {
    const x = withNaN([2, 3], [1]);
    expect(await nanCount(T.contiguous(T.transpose(x, 0, 1)))).toBe(1);
    expect(await nanCount(T.concat([x, x], 0))).toBe(2);
    const d = T.dropout(x, 0.25, { seed: 3 });
    const kept = Array.from(await d.mask.toArray())[1] !== 0;
    expect(await nanCount(d.out)).toBe(kept ? 1 : 0); // torch: a dropped NaN is 0 (x * 0 is NaN in IEEE, torch masks by select)
  });
});
