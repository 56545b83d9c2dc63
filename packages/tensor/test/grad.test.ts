import { describe, expect, it } from 'vitest';
import {
  add,
  div,
  mul,
  sub,
  type Tensor,
  absBackward,
  clampBackward,
  concat,
  concatBackward,
  divisorBackward,
  indexSelectBackward,
  logSoftmax,
  logSoftmaxBackward,
  matmulBackward,
  matmulBackwardB,
  maxBackward,
  meanBackward,
  minBackward,
  pad,
  padBackward,
  permute,
  permuteBackward,
  powScalarBackward,
  reluBackward,
  rsqrtBackward,
  sigmoid,
  sigmoidBackward,
  slice,
  sliceBackward,
  softmax,
  softmaxBackward,
  softplusBackward,
  sqrtBackward,
  squareBackward,
  sumBackward,
  sumToShape,
  tanh,
  tanhBackward,
  tensor,
} from '../src/index.ts';
import { randomArray, relErr, rng, unravel, useDevice } from './helpers.ts';
import { layoutOf, refIndexSelectBackward, refMatmul, refSoftmaxBackward, refSumToShape, refTranspose } from './reference/grad.ts';

useDevice();

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

describe('elementwise backward', () => {
  it('four at a time (size a multiple of 4, no broadcasting): relu with zeros and NaN, sigmoid, tanh, square, and add/sub/mul/div', async () => {
    const n = 12 * 20;
    const xs = randomArray(n, 5, -3, 3);
    xs[0] = 0;
    xs[5] = Number.NaN;
    xs[7] = -0;
    const dys = randomArray(n, 6);
    const x = tensor(xs, [12, 20]);
    const dy = tensor(dys, [12, 20]);
    expect(Array.from(await reluBackward(dy, x).toArray())).toEqual(Array.from(xs, (v, i) => (v > 0 ? dys[i] : 0)));
    const ys = randomArray(n, 7, 0.1, 0.9);
    const y = tensor(ys, [12, 20]);
    expect(
      relErr(
        await sigmoidBackward(dy, y).toArray(),
        Array.from(ys, (v, i) => dys[i] * v * (1 - v)),
      ),
    ).toBeLessThan(1e-6);
    expect(
      relErr(
        await tanhBackward(dy, y).toArray(),
        Array.from(ys, (v, i) => dys[i] * (1 - v * v)),
      ),
    ).toBeLessThan(1e-6);
    expect(
      relErr(
        await squareBackward(dy, y).toArray(),
        Array.from(ys, (v, i) => 2 * dys[i] * v),
      ),
    ).toBeLessThan(1e-6);
    const ops: [string, (a: Tensor | number, b: Tensor | number) => Tensor, (a: number, b: number) => number][] = [
      ['add', add, (a, b) => a + b],
      ['sub', sub, (a, b) => a - b],
      ['mul', mul, (a, b) => a * b],
      ['div', div, (a, b) => a / b],
    ];
    for (const [name, f, ref] of ops) {
      expect(
        relErr(
          await f(dy, y).toArray(),
          Array.from(dys, (v, i) => ref(v, ys[i])),
        ),
        name,
      ).toBeLessThan(1e-6);
      expect(
        relErr(
          await f(2.5, y).toArray(),
          Array.from(ys, (v) => ref(2.5, v)),
        ),
        `${name} scalar first`,
      ).toBeLessThan(1e-6);
    }
  });

  it('relu, sigmoid, tanh', async () => {
    const n = 13 * 17;
    const xs = randomArray(n, 1, -3, 3);
    const dys = randomArray(n, 2);
    const x = tensor(xs, [13, 17]);
    const dy = tensor(dys, [13, 17]);
    const r = await reluBackward(dy, x).toArray();
    expect(
      relErr(
        r,
        Array.from(xs, (v, i) => (v > 0 ? dys[i] : 0)),
      ),
    ).toBe(0);
    const s = sigmoid(x);
    const sv = Array.from(xs, (v) => 1 / (1 + Math.exp(-v)));
    expect(
      relErr(
        await sigmoidBackward(dy, s).toArray(),
        sv.map((y, i) => dys[i] * y * (1 - y)),
      ),
    ).toBeLessThan(1e-5);
    const t = tanh(x);
    expect(
      relErr(
        await tanhBackward(dy, t).toArray(),
        xs.map((v, i) => dys[i] * (1 - Math.tanh(v) ** 2)),
      ),
    ).toBeLessThan(1e-5);
    expect(() => reluBackward(dy, tensor(randomArray(3, 1), [3]))).toThrow(/reluBackward: gradient \[13,17\] and input \[3\]/);
  });

  it('sqrt, rsqrt, square, abs, softplus, pow, clamp and the divisor of div, vs float64 derivatives', async () => {
    const shape = [7, 19];
    const n = size(shape);
    const xs = randomArray(n, 3, 0.2, 3);
    const signed = randomArray(n, 4, -3, 3);
    const dys = randomArray(n, 5);
    const dy = tensor(dys, shape);
    const x = tensor(xs, shape);
    const s = tensor(signed, shape);
    const check = async (out: ReturnType<typeof tensor>, ref: (i: number) => number, tol = 1e-5) =>
      expect(
        relErr(
          await out.toArray(),
          Array.from(dys, (_, i) => ref(i)),
        ),
      ).toBeLessThan(tol);
    await check(sqrtBackward(dy, tensor(Float32Array.from(xs, Math.sqrt), shape)), (i) => dys[i] / (2 * Math.sqrt(xs[i])));
    await check(
      rsqrtBackward(
        dy,
        tensor(
          Float32Array.from(xs, (v) => 1 / Math.sqrt(v)),
          shape,
        ),
      ),
      (i) => -0.5 * dys[i] * xs[i] ** -1.5,
    );
    await check(squareBackward(dy, s), (i) => 2 * dys[i] * signed[i]);
    await check(absBackward(dy, s), (i) => dys[i] * Math.sign(signed[i]));
    await check(softplusBackward(dy, s), (i) => dys[i] / (1 + Math.exp(-signed[i])));
    await check(powScalarBackward(dy, x, 2.5), (i) => dys[i] * 2.5 * xs[i] ** 1.5);
    await check(powScalarBackward(dy, x, 0), () => 0);
    await check(clampBackward(dy, s, -0.5, 1), (i) => (signed[i] >= -0.5 && signed[i] <= 1 ? dys[i] : 0));
    await check(clampBackward(dy, s, 0, Infinity), (i) => (signed[i] >= 0 ? dys[i] : 0));
    // y = a / b with b broadcast [19]: the gradient has y's shape (the caller sums it back).
    const bs = randomArray(19, 6, 0.5, 2);
    const ys = Float32Array.from(signed, (v, i) => v / bs[i % 19]);
    await check(divisorBackward(dy, tensor(ys, shape), tensor(bs, [19])), (i) => (-dys[i] * ys[i]) / bs[i % 19]);
    expect(() => sqrtBackward(dy, tensor(xs.subarray(0, 19), [19]))).toThrow(/sqrtBackward: gradient \[7,19\] and output \[19\]/);
  });
});

describe('sumToShape', () => {
  const cases: [number[], number[]][] = [
    [
      [3, 5, 7],
      [5, 7],
    ],
    [
      [3, 5, 7],
      [1, 5, 1],
    ],
    [
      [2, 3, 13, 17],
      [3, 1, 1],
    ],
    [
      [5, 7],
      [5, 7],
    ],
    [[5, 7], []],
    [
      [4, 1, 7],
      [3, 1],
    ],
  ];
  for (const [gs, s] of cases) {
    it(`${gs.join('x')} -> [${s.join(',')}]`, async () => {
      const ok = gs.length >= s.length && s.every((d, i) => d === 1 || d === gs[gs.length - s.length + i]);
      const g = tensor(randomArray(size(gs), 3), gs);
      if (!ok) {
        expect(() => sumToShape(g, s)).toThrow(/sumToShape: gradient \[4,1,7\] does not broadcast from \[3,1\]/);
        return;
      }
      const r = sumToShape(g, s);
      expect(r.shape).toEqual(s);
      expect(relErr(await r.toArray(), refSumToShape(await g.toArray(), gs, s))).toBeLessThan(1e-5);
    });
  }
});

describe('softmax / logSoftmax backward', () => {
  const cases: [number[], number][] = [
    [[7, 5], -1],
    [[3, 13, 5], 1],
    [[5, 3, 7], 0],
    [[1, 1000], 1],
  ];
  for (const [shape, axis] of cases) {
    for (const log of [false, true]) {
      it(`${log ? 'logSoftmax' : 'softmax'} ${shape.join('x')} axis ${axis}`, async () => {
        const xs = randomArray(size(shape), shape[0] + axis + 3, -3, 3);
        const dys = randomArray(size(shape), 5);
        const x = tensor(xs, shape);
        const y = log ? logSoftmax(x, axis) : softmax(x, axis);
        const dy = tensor(dys, shape);
        const dx = log ? logSoftmaxBackward(dy, y, axis) : softmaxBackward(dy, y, axis);
        expect(relErr(await dx.toArray(), refSoftmaxBackward(dys, xs, shape, axis, log))).toBeLessThan(1e-5);
      });
    }
  }
});

describe('max / min backward', () => {
  it('gradient goes to the first extreme, per axis and over all', async () => {
    const shape = [3, 5, 7];
    const xs = randomArray(size(shape), 7);
    for (let i = 0; i < xs.length; i += 4) xs[i] = 0.99; // ties
    const x = tensor(xs, shape);
    for (const axis of [0, 1, 2, -1]) {
      const { a, len, inner, outer } = layoutOf(shape, axis);
      const dys = randomArray(outer * inner, 11 + a);
      const dy = tensor(
        dys,
        shape.filter((_, d) => d !== a),
      );
      for (const [fn, better] of [
        [maxBackward, (p: number, q: number) => p > q],
        [minBackward, (p: number, q: number) => p < q],
      ] as const) {
        const ref = new Float64Array(xs.length);
        for (let o = 0; o < outer; o++)
          for (let n = 0; n < inner; n++) {
            let best = -1;
            for (let j = 0; j < len; j++) {
              const k = o * len * inner + j * inner + n;
              if (best < 0 || better(xs[k], xs[best])) best = k;
            }
            ref[best] = dys[o * inner + n];
          }
        expect(relErr(await fn(dy, x, axis).toArray(), ref)).toBe(0);
      }
    }
    const dy = tensor([2.5], []);
    const flat = await maxBackward(dy, x).toArray();
    const first = xs.indexOf(Math.max(...xs));
    expect(flat[first]).toBe(2.5);
    expect(flat.reduce((p, v) => p + v, 0)).toBe(2.5);
    expect(unravel(first, shape).length).toBe(3);
  });
});

describe('indexSelectBackward', () => {
  const cases: [number[], number, number][] = [
    [[7, 5], 0, 13],
    [[3, 13, 5], 1, 4],
    [[5, 3, 7], 2, 9],
    [[11, 3], 0, 0],
  ];
  for (const [shape, axis, K] of cases) {
    it(`${shape.join('x')} axis ${axis}, ${K} indices with repeats`, async () => {
      const r = rng(K + axis);
      const idx = Int32Array.from({ length: K }, () => Math.floor(r() * shape[axis]));
      const dyShape = shape.map((d, i) => (i === axis ? K : d));
      const dys = randomArray(size(dyShape), 21);
      const dx = indexSelectBackward(tensor(dys, dyShape), axis, tensor(idx, [K], 'int32'), shape);
      expect(dx.shape).toEqual(shape);
      expect(relErr(await dx.toArray(), refIndexSelectBackward(dys, shape, axis, idx))).toBeLessThan(1e-6);
    });
  }
});

describe('sum / mean backward', () => {
  const cases: [number[], number[] | undefined][] = [
    [[3, 5, 7], [1]],
    [
      [3, 5, 7],
      [0, 2],
    ],
    [
      [2, 3, 13, 17],
      [0, 2, 3],
    ],
    [[5, 7], undefined],
  ];
  for (const [shape, axes] of cases) {
    it(`${shape.join('x')} over ${JSON.stringify(axes ?? 'all')}`, async () => {
      const ax = axes ?? shape.map((_, i) => i);
      const kept = shape.filter((_, d) => !ax.includes(d));
      const dys = randomArray(size(kept), 31);
      const dy = tensor(dys, kept);
      const n = ax.reduce((p, a) => p * shape[a], 1);
      const ref = new Float64Array(size(shape));
      for (let i = 0; i < ref.length; i++) {
        const c = unravel(i, shape);
        let o = 0;
        kept.forEach((_, j) => {
          o = o * kept[j] + c[shape.findIndex((_, d) => !ax.includes(d) && shape.filter((__, e) => !ax.includes(e) && e < d).length === j)];
        });
        ref[i] = dys[o];
      }
      expect(relErr(await sumBackward(dy, shape, axes).toArray(), ref)).toBe(0);
      expect(
        relErr(
          await meanBackward(dy, shape, axes).toArray(),
          ref.map((v) => v / n),
        ),
      ).toBeLessThan(1e-6);
    });
  }
});

describe('layout backward', () => {
  it('permute, slice, pad and concat undo their forward', async () => {
    const shape = [3, 5, 7];
    const xs = randomArray(size(shape), 61);
    const x = tensor(xs, shape);
    const dims = [2, 0, -2];
    expect(Array.from(await permuteBackward(permute(x, dims), dims).toArray())).toEqual(Array.from(xs));
    const ranges = [{ start: 1 }, null, { start: -5, end: 6 }];
    const back = sliceBackward(slice(x, ranges), shape, ranges);
    expect(back.shape).toEqual(shape);
    const host = await back.toArray();
    for (let i = 0; i < xs.length; i++) {
      const [a, , c] = unravel(i, shape);
      expect(host[i]).toBe(a >= 1 && c >= 2 && c < 6 ? xs[i] : 0);
    }
    const padding = [2, 1, 0, 3];
    expect(Array.from(await padBackward(pad(x, padding), shape, padding).toArray())).toEqual(Array.from(xs));
    const y = tensor(randomArray(3 * 2 * 7, 62), [3, 2, 7]);
    const [gx, gy] = concatBackward(concat([x, y], 1), [shape, [3, 2, 7]], 1);
    expect(Array.from(await gx!.toArray())).toEqual(Array.from(xs));
    expect(Array.from(await gy!.toArray())).toEqual(Array.from(await y.toArray()));
    expect(concatBackward(concat([x, y], 1), [shape, [3, 2, 7]], -2, [false, true])[0]).toBeNull();
  });
});

describe('matmulBackward', () => {
  const M = 5,
    K = 7,
    N = 3;
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      it(`transA=${transA} transB=${transB}`, async () => {
        const a = randomArray(M * K, 41);
        const b = randomArray(K * N, 42);
        const dys = randomArray(M * N, 43);
        // stored layouts
        const aS = transA ? refTranspose(a, M, K) : a;
        const bS = transB ? refTranspose(b, K, N) : b;
        const at = tensor(Float32Array.from(aS), transA ? [K, M] : [M, K]);
        const bt = tensor(Float32Array.from(bS), transB ? [N, K] : [K, N]);
        const { da, db } = matmulBackward(tensor(dys, [M, N]), at, bt, { transA, transB });
        const daL = refMatmul(dys, refTranspose(b, K, N), M, N, K); // [M,K]
        const dbL = refMatmul(refTranspose(a, M, K), dys, K, M, N); // [K,N]
        expect(da.shape).toEqual(at.shape);
        expect(db.shape).toEqual(bt.shape);
        expect(relErr(await da.toArray(), transA ? refTranspose(daL, M, K) : daL)).toBeLessThan(1e-5);
        expect(relErr(await db.toArray(), transB ? refTranspose(dbL, K, N) : dbL)).toBeLessThan(1e-5);
      });
    }
  }
  it('sums a broadcast batch back', async () => {
    const B = 3;
    const a = randomArray(B * M * K, 51);
    const b = randomArray(K * N, 52);
    const dys = randomArray(B * M * N, 53);
    const { da, db } = matmulBackward(tensor(dys, [B, M, N]), tensor(a, [B, M, K]), tensor(b, [K, N]));
    expect(da.shape).toEqual([B, M, K]);
    expect(db.shape).toEqual([K, N]);
    const ref = new Float64Array(K * N);
    for (let i = 0; i < B; i++) {
      const part = refMatmul(refTranspose(a.subarray(i * M * K, (i + 1) * M * K), M, K), dys.subarray(i * M * N, (i + 1) * M * N), K, M, N);
      part.forEach((v, j) => {
        ref[j] += v;
      });
    }
    expect(relErr(await db.toArray(), ref)).toBeLessThan(1e-5);
    // The same weight stored [N, K] (a Linear over a batch of sequences): one folded matmul.
    const dbT = matmulBackwardB(tensor(dys, [B, M, N]), tensor(a, [B, M, K]), tensor(Float32Array.from(refTranspose(b, K, N)), [N, K]), { transB: true });
    expect(dbT.shape).toEqual([N, K]);
    expect(relErr(await dbT.toArray(), refTranspose(ref, K, N))).toBeLessThan(1e-5);
  });
});
