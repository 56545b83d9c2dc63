import { describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { randomArray, relErr, sizeOf, useDevice } from './helpers.ts';
import { argRef, reduceRef, softmaxRef } from './reference/reduce.ts';

useDevice();

const cases: [number[], number[]][] = [
  [[1000], [0]],
  [[3, 17], [1]],
  [[3, 17], [0]],
  [
    [5, 7, 13],
    [0, 2],
  ],
  [
    [2, 3, 5, 7],
    [1, 2, 3],
  ],
  [[255, 3], [0]],
  [[4, 1000], [1]],
  [
    [7, 3, 300],
    [0, 2],
  ],
  [[2, 4096], [1]],
  [
    [3, 5, 7],
    [0, 1, 2],
  ],
  [[1, 1], [1]],
];

describe('reductions vs float64 reference', () => {
  it('sum, mean, max, min over any axes', async () => {
    for (const [k, [shape, axes]] of cases.entries()) {
      const host = randomArray(sizeOf(shape), 400 + k, -2, 2);
      const x = T.tensor(host, shape);
      const count = axes.reduce((p, a) => p * shape[a], 1);
      const s = reduceRef(host, shape, axes, 0, (a, v) => a + v);
      expect(relErr(await T.sum(x, axes).toArray(), s.data), `sum ${shape} ${axes}`).toBeLessThan(1e-4);
      expect(
        relErr(
          await T.mean(x, axes).toArray(),
          s.data.map((v) => v / count),
        ),
        `mean ${shape}`,
      ).toBeLessThan(1e-4);
      expect(relErr(await T.max(x, axes).toArray(), reduceRef(host, shape, axes, -Infinity, Math.max).data), `max ${shape}`).toBe(0);
      expect(relErr(await T.min(x, axes).toArray(), reduceRef(host, shape, axes, Infinity, Math.min).data), `min ${shape}`).toBe(0);
      expect(T.sum(x, axes).shape).toEqual(s.shape);
    }
  });

  it('keepdim keeps reduced axes as 1', () => {
    const x = T.rand([3, 4, 5], { seed: 1 });
    expect(T.sum(x, [0, 2], true).shape).toEqual([3, 4, 5].map((d, i) => (i === 1 ? d : 1)));
    expect(T.mean(x, -1, true).shape).toEqual([3, 4, 1]);
    expect(T.sum(x).shape).toEqual([]);
  });

  it('variance (unbiased and biased) stays accurate with a large mean', async () => {
    for (const [k, [shape, axes]] of cases.slice(0, 8).entries()) {
      const host = randomArray(sizeOf(shape), 500 + k, 99, 101);
      const x = T.tensor(host, shape);
      const count = axes.reduce((p, a) => p * shape[a], 1);
      const mean = reduceRef(host, shape, axes, 0, (a, v) => a + v).data.map((v) => v / count);
      const outShape = shape.filter((_, d) => !axes.includes(d));
      const ssd = new Float64Array(mean.length);
      // Squared deviations from the float64 mean, as the definition.
      for (let i = 0; i < host.length; i++) {
        let o = 0;
        let r = i;
        const c: number[] = [];
        for (let d = shape.length - 1; d >= 0; d--) {
          c[d] = r % shape[d];
          r = Math.floor(r / shape[d]);
        }
        const kept = c.filter((_, d) => !axes.includes(d));
        for (let d = 0; d < kept.length; d++) o = o * outShape[d] + kept[d];
        ssd[o] += (host[i] - mean[o]) ** 2;
      }
      expect(
        relErr(
          await T.variance(x, axes).toArray(),
          ssd.map((v) => v / (count - 1)),
        ),
        `var ${shape}`,
      ).toBeLessThan(1e-4);
      expect(
        relErr(
          await T.variance(x, axes, { unbiased: false }).toArray(),
          ssd.map((v) => v / count),
        ),
      ).toBeLessThan(1e-4);
    }
  });

  it('argmax and argmin along one axis, first index on ties', async () => {
    for (const [k, shape] of [[17], [3, 17], [5, 300], [7, 3, 5]].entries()) {
      const host = randomArray(sizeOf(shape), 600 + k).map((v) => Math.round(v * 4) / 4);
      const x = T.tensor(host, shape);
      for (let axis = 0; axis < shape.length; axis++) {
        expect(Array.from(await T.argmax(x, axis).toArray()), `argmax ${shape} ${axis}`).toEqual(Array.from(argRef(host, shape, axis, (a, b) => a > b)));
        expect(Array.from(await T.argmin(x, axis).toArray()), `argmin ${shape} ${axis}`).toEqual(Array.from(argRef(host, shape, axis, (a, b) => a < b)));
      }
    }
  });

  // The folds started from ∓3.402823e38: a row of -inf (a fully masked row) had max -3.4e38, and
  // with lanes left empty (100 < 128 lanes) argmax gave index -1. Serial (5), one workgroup per
  // output (100, 1000), and split into partials as on a GPU.
  it('max, min, argmax, argmin of rows that are all ∓inf or ∓FLT_MAX, as torch', async () => {
    const { setReduceSplitTarget } = await import('../src/ops/reduce/reduce.ts');
    const fltMax = 3.4028234663852886e38;
    try {
      for (const split of [null, 1 << 20]) {
        setReduceSplitTarget(split);
        for (const n of [5, 100, 1000]) {
          const at = `n=${n} split=${split}`;
          expect(Array.from(await T.max(T.full([2, n], -Infinity), 1).toArray()), at).toEqual([-Infinity, -Infinity]);
          expect(Array.from(await T.min(T.full([2, n], Infinity), 1).toArray()), at).toEqual([Infinity, Infinity]);
          expect(Array.from(await T.argmax(T.full([2, n], -Infinity), 1).toInt32Array()), at).toEqual([0, 0]);
          expect(Array.from(await T.argmin(T.full([2, n], Infinity), 1).toInt32Array()), at).toEqual([0, 0]);
          expect(await T.max(T.full([n], -fltMax)).item(), at).toBe(-fltMax);
          expect(await T.min(T.full([n], fltMax)).item(), at).toBe(fltMax);
          // One finite value among -inf: its index and value.
          const row = new Float32Array(n).fill(-Infinity);
          row[n - 2] = -7;
          expect(await T.argmax(T.tensor(row), 0).item(), at).toBe(n - 2);
          expect(await T.max(T.tensor(row)).item(), at).toBe(-7);
        }
      }
    } finally {
      setReduceSplitTarget(null);
    }
  });

  it('reductions reject bad axes by name', () => {
    expect(() => T.sum(T.zeros([2, 3]), 2)).toThrow(/sum: axis 2 is out of range for shape \[2,3\]/);
    expect(() => T.mean(T.zeros([2, 3]), [0, 0])).toThrow(/mean: repeated axis/);
  });
});

describe('softmax and logSoftmax', () => {
  it('match the reference along every axis, stable for large logits', async () => {
    for (const [k, shape] of [[1000], [3, 17], [4, 5, 6], [2, 257]].entries()) {
      const host = randomArray(sizeOf(shape), 700 + k, -50, 50);
      const x = T.tensor(host, shape);
      for (let axis = 0; axis < shape.length; axis++) {
        expect(relErr(await T.softmax(x, axis).toArray(), softmaxRef(host, shape, axis, false)), `softmax ${shape} ${axis}`).toBeLessThan(1e-5);
        expect(relErr(await T.logSoftmax(x, axis).toArray(), softmaxRef(host, shape, axis, true)), `logSoftmax ${shape} ${axis}`).toBeLessThan(1e-5);
      }
    }
  });
});

describe('two-pass reductions (chunked partials, forced as on a GPU)', () => {
  it('sum, mean, max, min, variance over large extents with few outputs', async () => {
    const { setReduceSplitTarget } = await import('../src/ops/reduce/reduce.ts');
    setReduceSplitTarget(1 << 20);
    try {
      const big: [number[], number[]][] = [
        [[100003], [0]],
        [
          [3, 13, 41, 37],
          [0, 2, 3],
        ],
        [[4, 1000], [1]],
        [
          [2, 3, 5, 7],
          [1, 2, 3],
        ],
        [
          [7, 3, 300],
          [0, 2],
        ],
      ];
      for (const [k, [shape, axes]] of big.entries()) {
        const host = randomArray(sizeOf(shape), 900 + k, 99, 101);
        const x = T.tensor(host, shape);
        const count = axes.reduce((p, a) => p * shape[a], 1);
        const s = reduceRef(host, shape, axes, 0, (a, v) => a + v);
        const mean = s.data.map((v) => v / count);
        expect(relErr(await T.sum(x, axes).toArray(), s.data), `sum ${shape} ${axes}`).toBeLessThan(1e-5);
        expect(relErr(await T.mean(x, axes, true).toArray(), mean), `mean ${shape}`).toBeLessThan(1e-5);
        expect(T.mean(x, axes, true).shape).toEqual(shape.map((d, i) => (axes.includes(i) ? 1 : d)));
        expect(relErr(await T.max(x, axes).toArray(), reduceRef(host, shape, axes, -Infinity, Math.max).data), `max ${shape}`).toBe(0);
        expect(relErr(await T.min(x, axes).toArray(), reduceRef(host, shape, axes, Infinity, Math.min).data), `min ${shape}`).toBe(0);
        // Variance against a float64 two-pass reference.
        const keepIdx = (i: number) => {
          let r = 0;
          let stride = 1;
          let rem = i;
          const idx: number[] = [];
          for (let d = shape.length - 1; d >= 0; d--) {
            idx[d] = rem % shape[d];
            rem = Math.floor(rem / shape[d]);
          }
          for (let d = shape.length - 1; d >= 0; d--)
            if (!axes.includes(d)) {
              r += idx[d] * stride;
              stride *= shape[d];
            }
          return r;
        };
        const vref = new Float64Array(mean.length);
        host.forEach((v, i) => {
          const o = keepIdx(i);
          vref[o] += (v - mean[o]) ** 2;
        });
        expect(
          relErr(
            await T.variance(x, axes).toArray(),
            vref.map((v) => v / (count - 1)),
          ),
          `variance ${shape}`,
        ).toBeLessThan(1e-4);
        // argmax keeps its one-pass path.
        expect(Array.from(await T.argmax(T.reshape(x, [-1])).toArray())[0]).toBe(host.indexOf(Math.max(...host)));
      }
    } finally {
      setReduceSplitTarget(null);
    }
  });
});
