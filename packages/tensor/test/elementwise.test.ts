import { describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { randomArray, relErr, sizeOf, useDevice } from './helpers.ts';
import { binaryRef, mapN, unaryRef } from './reference/elementwise.ts';

useDevice();

const positiveOnly = new Set(['log', 'sqrt', 'rsqrt']);

describe('unary ops vs float64 reference', () => {
  // Sizes that are a multiple of 4 ([1000]) run the ops' vec4 forms, the others one element per invocation.
  const shapes = [[1], [3], [17], [255], [1000], [3, 5, 7]];
  for (const op of Object.keys(T.unaryOps) as T.UnaryOp[]) {
    it(op, async () => {
      for (const [k, shape] of shapes.entries()) {
        const lo = positiveOnly.has(op) ? 0.05 : -4;
        const host = randomArray(sizeOf(shape), 100 + k, lo, 4);
        const out = await T.unary(op, T.tensor(host, shape)).toArray();
        const ref = Array.from(host, unaryRef[op]);
        expect(relErr(out, ref), `${op} ${shape}`).toBeLessThan(1e-5);
      }
    });
  }

  it('sigmoid and tanh stay finite and exact at ±100', async () => {
    const x = T.tensor([-100, -30, 0, 30, 100]);
    const s = await T.sigmoid(x).toArray();
    expect(s.every(Number.isFinite)).toBe(true);
    // exp(-100) underflows float32 (denormals may flush to zero), so compare on the reference's scale.
    expect(relErr(s, [1 / (1 + Math.exp(100)), 1 / (1 + Math.exp(30)), 0.5, 1, 1])).toBeLessThan(1e-6);
    expect(s[1]).toBeCloseTo(9.357622968839299e-14, 18);
    expect(Array.from(await T.tanh(x).toArray())).toEqual([-1, -1, 0, 1, 1]);
  });

  // Per element, not as a norm: the errors were at the small values a norm hides. tanh lost every
  // digit below ~1e-4 (tanh(1e-12) was 3e-8: 1 − exp(−2|x|) cancels), softplus(x ≪ 0) was exactly 0
  // (1 + e^x rounds e^x away). Both sizes: 120 runs softplus' vec4 form, 121 the scalar one.
  it.each([120, 121])('tanh and softplus keep their relative precision at small values, %i elements', async (n) => {
    const host = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const mag = 10 ** (-12 + (13.5 * Math.floor(i / 2)) / Math.floor(n / 2));
      host[i] = i % 2 ? -mag : mag;
    }
    host[n - 1] = -30;
    host[n - 2] = -17.5;
    const x = T.tensor(host);
    const worst = (out: Float32Array, ref: (v: number) => number) => Math.max(...Array.from(host, (v, i) => Math.abs(out[i] - ref(v)) / Math.abs(ref(v))));
    expect(worst(await T.tanh(x).toArray(), Math.tanh)).toBeLessThan(2e-6);
    const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
    expect(worst(await T.softplus(x).toArray(), softplus)).toBeLessThan(1e-5);
    x.dispose();
  });

  it.each([257, 256])('clamp with open bounds, %i elements', async (n) => {
    const host = randomArray(n, 7, -3, 3);
    const x = T.tensor(host);
    expect(
      relErr(
        await T.clamp(x, -1, 0.5).toArray(),
        Array.from(host, (v) => Math.min(0.5, Math.max(-1, v))),
      ),
    ).toBeLessThan(1e-7);
    expect(
      relErr(
        await T.clamp(x, 0, Infinity).toArray(),
        Array.from(host, (v) => Math.max(0, v)),
      ),
    ).toBeLessThan(1e-7);
  });
});

describe('binary ops with broadcasting vs float64 reference', () => {
  const pairs: [number[], number[]][] = [
    [[17], [17]],
    [[255], [1]],
    [[1], [1000]],
    [
      [3, 1],
      [1, 5],
    ],
    [[2, 3, 5], [5]],
    [
      [4, 1, 7],
      [3, 1],
    ],
    [
      [1, 3, 1, 13],
      [2, 1, 17, 1],
    ],
    [[], [3, 2]],
  ];
  for (const op of Object.keys(T.binaryOps) as T.BinaryOp[]) {
    it(op, async () => {
      for (const [k, [sa, sb]] of pairs.entries()) {
        let a = randomArray(sizeOf(sa), 200 + k, op === 'pow' ? 0.1 : -3, 3);
        const b = randomArray(sizeOf(sb), 300 + k, op === 'pow' ? -2 : -3, 3);
        // Comparisons need equal values too: make some elements of a copies of b's.
        if (['eq', 'ne', 'le', 'ge'].includes(op)) a = a.map((v, i) => (i % 3 === 0 ? b[i % b.length] : v));
        const out = await T.binary(op, T.tensor(a, sa), T.tensor(b, sb)).toArray();
        const ref = mapN([sa, sb], [a, b], binaryRef[op]);
        expect(relErr(out, ref.data), `${op} ${JSON.stringify([sa, sb])}`).toBeLessThan(1e-5);
      }
    });
  }

  it('scalar operands on either side', async () => {
    const host = randomArray(31, 9);
    const x = T.tensor(host, [31]);
    expect(
      relErr(
        await T.sub(2.5, x).toArray(),
        Array.from(host, (v) => 2.5 - v),
      ),
    ).toBeLessThan(1e-6);
    expect(
      relErr(
        await T.div(x, 4).toArray(),
        Array.from(host, (v) => v / 4),
      ),
    ).toBeLessThan(1e-6);
    expect(
      relErr(
        await T.pow(x, 2).toArray(),
        Array.from(host, (v) => v * v),
      ),
    ).toBeLessThan(1e-5);
    expect(relErr(await T.maximum(x, -Infinity).toArray(), host)).toBe(0);
  });

  it('pow of negative bases with integer exponents, as torch', async () => {
    const out = await T.pow(T.tensor([-2, -3, 2, -2]), T.tensor([2, 3, 0.5, 0.5])).toArray();
    expect(relErr(out.slice(0, 3), [4, -27, Math.SQRT2])).toBeLessThan(1e-6);
    expect(out[1]).toBe(-27);
    expect(Number.isNaN(out[3])).toBe(true);
  });

  it('where broadcasts condition and operands', async () => {
    const c = randomArray(12, 11);
    const a = randomArray(4, 12);
    const out = await T.where(T.gt(T.tensor(c, [3, 4]), 0), T.tensor(a, [4]), -7).toArray();
    const ref = mapN([[3, 4], [4]], [c, a], (cv, av) => (cv > 0 ? av : -7));
    expect(relErr(out, ref.data)).toBe(0);
  });
});

describe('0-size tensors', () => {
  // The broadcast index code of an empty output divided by its 0 dimension (`r % 0u`): invalid WGSL,
  // whose WebGPU error surfaced at the next, unrelated readback.
  it('broadcasting ops over a 0-size dimension give empty results and leave the device clean', async () => {
    const z = T.zeros([3, 0, 2]);
    const sum = T.add(z, T.ones([1, 1, 2]));
    expect(sum.shape).toEqual([3, 0, 2]);
    expect((await sum.toArray()).length).toBe(0);
    expect(T.mul(T.ones([1, 5]), T.zeros([0, 1])).shape).toEqual([0, 5]);
    expect(T.expand(T.ones([1, 3]), [0, 3]).shape).toEqual([0, 3]);
    const x = T.tensor([1, 2, 3]);
    expect(Array.from(await T.mul(x, 2).toArray())).toEqual([2, 4, 6]);
  });
});

describe('bad input', () => {
  it('shape mismatch names the op and the shapes', () => {
    expect(() => T.add(T.zeros([2, 3]), T.zeros([4]))).toThrow(/add: shapes \[2,3\] and \[4\] cannot be broadcast/);
  });
  it('a disposed tensor', () => {
    const x = T.zeros([3]);
    x.dispose();
    expect(() => T.exp(x)).toThrow(/exp: tensor of shape \[3\] was used after dispose/);
  });
  it('non-finite scalars where not allowed', () => {
    expect(() => T.mul(T.ones([2]), Number.NaN)).toThrow(/mul: scalar operand 1 is NaN/);
    expect(() => T.add(T.ones([2]), Infinity)).toThrow(/add: scalar operand 1 is Infinity/);
    expect(() => T.clamp(T.ones([2]), 1, 0)).toThrow(/clamp: invalid bounds/);
  });
  it('int32 tensors are refused by float ops', () => {
    expect(() => T.exp(T.tensor(new Int32Array([1, 2])))).toThrow(/exp: expects float32 or float16 tensors, got int32 \[2\]/);
  });
});
