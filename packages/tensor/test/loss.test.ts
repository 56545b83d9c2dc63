import { describe, expect, it } from 'vitest';
import { binaryCrossEntropyWithLogits, binaryCrossEntropyWithLogitsBackward, crossEntropy, crossEntropyBackward, tensor } from '../src/index.ts';
import { randomArray, relErr, rng, useDevice } from './helpers.ts';
import { numericGrad, refBce, refBceGrad, refCrossEntropy, refCrossEntropyGrad, type RefCeOpts } from './reference/loss.ts';

useDevice();

function labelsFor(N: number, C: number, seed: number, ignoreEvery = 0): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: N }, (_, i) => (ignoreEvery && i % ignoreEvery === 1 ? -100 : Math.floor(r() * C)));
}

describe('crossEntropy', () => {
  const cases: [string, number, number, RefCeOpts, number][] = [
    ['mean, 7x5', 7, 5, {}, 0],
    ['sum, 13x3', 13, 3, { reduction: 'sum' }, 0],
    ['none, 5x7', 5, 7, { reduction: 'none' }, 0],
    ['class weights, mean', 13, 5, { weight: randomArray(5, 8, 0.2, 2) }, 0],
    ['label smoothing 0.1, mean', 9, 5, { smoothing: 0.1 }, 0],
    ['weights + smoothing 0.2, mean, ignored rows', 13, 7, { weight: randomArray(7, 9, 0.2, 2), smoothing: 0.2 }, 4],
    ['weights + smoothing, none', 6, 3, { weight: randomArray(3, 10, 0.2, 2), smoothing: 0.3, reduction: 'none' }, 0],
    ['weights + smoothing, sum', 6, 3, { weight: randomArray(3, 11, 0.2, 2), smoothing: 0.3, reduction: 'sum' }, 0],
    ['2 classes, 1 row', 1, 2, {}, 0],
    ['1000 classes (ImageNet), 3 rows', 3, 1000, { smoothing: 0.1 }, 0],
  ];
  for (const [name, N, C, o, ignoreEvery] of cases) {
    it(name, async () => {
      const zs = randomArray(N * C, N * 31 + C, -4, 4);
      const ys = labelsFor(N, C, N + C, ignoreEvery);
      const logits = tensor(zs, [N, C]);
      const labels = tensor(ys, [N], 'int32');
      const weight = o.weight ? tensor(o.weight, [C]) : null;
      const opts = { weight, labelSmoothing: o.smoothing, reduction: o.reduction };
      const loss = crossEntropy(logits, labels, opts);
      const ref = refCrossEntropy(zs, ys, N, C, o);
      expect(loss.shape).toEqual(o.reduction === 'none' ? [N] : []);
      expect(relErr(await loss.toArray(), ref)).toBeLessThan(1e-5);
      const gs = o.reduction === 'none' ? randomArray(N, 3, 0.5, 1.5) : Float32Array.of(0.7);
      const g = tensor(gs, o.reduction === 'none' ? [N] : []);
      const d = crossEntropyBackward(logits, labels, opts, g);
      const dr = refCrossEntropyGrad(zs, ys, N, C, o, gs);
      const dv = await d.toArray();
      expect(relErr(dv, dr)).toBeLessThan(1e-5);
      if (N * C <= 64)
        expect(
          relErr(
            dr,
            numericGrad((z) => refCrossEntropy(z, ys, N, C, o), zs, gs),
          ),
        ).toBeLessThan(1e-6);
      // a plain number as the incoming gradient
      const d2 = crossEntropyBackward(logits, labels, opts, 0.7);
      if (o.reduction !== 'none') expect(relErr(await d2.toArray(), dv)).toBe(0);
      for (const t of [logits, labels, weight, loss, g, d, d2]) t?.dispose();
    });
  }
  it('is stable for huge logits', async () => {
    const zs = Float32Array.of(1000, -1000, 0, -500, 800, 799);
    const logits = tensor(zs, [2, 3]);
    const labels = tensor([1, 2], [2], 'int32');
    const l = crossEntropy(logits, labels, { reduction: 'none' });
    expect(relErr(await l.toArray(), refCrossEntropy(zs, [1, 2], 2, 3, { reduction: 'none' }))).toBeLessThan(1e-6);
    const d = await crossEntropyBackward(logits, labels, {}).toArray();
    expect(d.every(Number.isFinite)).toBe(true);
  });
  it('rejects bad shapes naming the op and shapes', () => {
    const logits = tensor(randomArray(6, 1), [2, 3]);
    const labels = tensor([0, 1, 2], [3], 'int32');
    expect(() => crossEntropy(logits, labels)).toThrow(/crossEntropy: labels must be int32 \[2\] for logits \[2,3\], got int32 \[3\]/);
    const w = tensor(randomArray(2, 1), [2]);
    const l2 = tensor([0, 1], [2], 'int32');
    expect(() => crossEntropy(logits, l2, { weight: w })).toThrow(/weight must be float32 or float16 \[3\]/);
    for (const t of [logits, labels, w, l2]) t.dispose();
  });
});

describe('binaryCrossEntropyWithLogits', () => {
  it('the loss of a confident answer keeps its value (it rounded to exactly 0 past |x| ≈ 17)', async () => {
    // softplus(−|x|) = log1p(e^−|x|) against the float64 value, per element; x = −40 with t = 0 is
    // where x + (−x + 4e-18) cancelled the whole loss.
    const xs = Float32Array.of(17.5, -17.5, 20, -20, 40, -40, 3, -3, 1e-3);
    const ts = Float32Array.of(1, 0, 1, 0, 1, 0, 1, 0, 1);
    const l = await binaryCrossEntropyWithLogits(tensor(xs), tensor(ts), { reduction: 'none' }).toArray();
    xs.forEach((x, i) => {
      const ref = (1 - ts[i]) * x + Math.max(-x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
      expect(Math.abs(l[i] - ref) / ref, `x=${x} t=${ts[i]}`).toBeLessThan(1e-5);
    });
  });

  const N = 7,
    C = 5;
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    for (const withPw of [false, true]) {
      it(`${reduction}${withPw ? ', posWeight' : ''}`, async () => {
        const xs = randomArray(N * C, 12, -6, 6);
        xs[0] = 100;
        xs[1] = -100;
        xs[2] = 90;
        xs[3] = -95;
        const ts = randomArray(N * C, 13, 0, 1);
        ts[0] = 0;
        ts[1] = 1;
        ts[2] = 1;
        ts[3] = 0;
        const pws = randomArray(C, 14, 0.5, 3);
        const x = tensor(xs, [N, C]);
        const t = tensor(ts, [N, C]);
        const pw = withPw ? tensor(pws, [C]) : null;
        const l = binaryCrossEntropyWithLogits(x, t, { posWeight: pw, reduction });
        expect(relErr(await l.toArray(), refBce(xs, ts, withPw ? pws : null, C, reduction))).toBeLessThan(1e-5);
        const gs = reduction === 'none' ? randomArray(N * C, 15, 0.5, 1.5) : Float32Array.of(1.3);
        const g = tensor(gs, reduction === 'none' ? [N, C] : []);
        const d = binaryCrossEntropyWithLogitsBackward(x, t, { posWeight: pw, reduction }, g);
        const dv = await d.toArray();
        expect(dv.every(Number.isFinite)).toBe(true);
        expect(relErr(dv, refBceGrad(xs, ts, withPw ? pws : null, C, reduction, gs))).toBeLessThan(1e-5);
        for (const k of [x, t, pw, l, g, d]) k?.dispose();
      });
    }
  }
});
