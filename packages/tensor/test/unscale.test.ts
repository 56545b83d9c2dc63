import { describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { randomArray, useDevice } from './helpers.ts';

useDevice();

async function run(values: Float32Array[], inv: number): Promise<{ found: number; out: Float32Array[] }> {
  const grads = values.map((v) => T.tensor(v, [v.length]));
  const found = T.zeros([1]);
  T.nonFiniteCheckAndUnscale(grads, found, inv);
  const out = await Promise.all(grads.map((g) => g.toArray()));
  return { found: await found.item(), out };
}

/**
 * +Inf, -Inf and NaN at the first and last element, in the vec4 form (sizes 8, 12) and the scalar
 * one (7, 5).
 */
function* nonFiniteCases() {
  for (const [bad, n] of [
    [Number.POSITIVE_INFINITY, 8],
    [Number.NEGATIVE_INFINITY, 7],
    [Number.NaN, 12],
    [Number.NaN, 5],
  ] as const) {
    for (const at of [0, n - 1]) {
      const v = randomArray(n, 3);
      v[at] = bad;
      yield { bad, n, at, v };
    }
  }
}

describe('nonFiniteCheckAndUnscale (the loss scaler check)', () => {
  it('divides every gradient by the scale in place, vec4 (size 4k) and scalar (odd) forms', async () => {
    const a = randomArray(1028, 1, -50, 50);
    const b = randomArray(1001, 2, -50, 50);
    const inv = 1 / 1024;
    const { found, out } = await run([a, b], inv);
    expect(found).toBe(0);
    // A power-of-two scale is exact in float32.
    expect(Array.from(out[0])).toEqual(Array.from(a, (v) => Math.fround(v * inv)));
    expect(Array.from(out[1])).toEqual(Array.from(b, (v) => Math.fround(v * inv)));
  });

  it('flags +Inf, -Inf and NaN in either form, wherever they are; large finite and subnormal values are not flagged', async () => {
    for (const { bad, n, at, v } of nonFiniteCases()) {
      const clean = randomArray(16, 4);
      expect((await run([clean, v], 0.5)).found, `${bad} at ${at} of ${n}`).toBe(1);
    }
    const edge = new Float32Array([3.4e38, -3.4e38, 1e-45, -1e-40, 0, -0, 1, 2]);
    expect((await run([edge], 1)).found).toBe(0);
  });

  it('divides a buffer shared by several gradients (views) once', async () => {
    const g = T.tensor([8, 16, -8, 4], [4]);
    const found = T.zeros([1]);
    T.nonFiniteCheckAndUnscale([g, g.view([2, 2]), g.view([4])], found, 1 / 8);
    expect(Array.from(await g.toArray())).toEqual([1, 2, -1, 0.5]);
  });

  it('refuses float16 gradients and a flag of the wrong shape', () => {
    const g = T.zeros([4]);
    expect(() => T.nonFiniteCheckAndUnscale([g], T.zeros([2]), 1)).toThrow(/foundInf must be float32 \[1\]/);
    expect(() => T.nonFiniteCheckAndUnscale([T.zeros([4], 'float16')], T.zeros([1]), 1)).toThrow(/gradients must be float32/);
  });
});

describe('nonFiniteCheck (the check without the unscale)', () => {
  it('flags Inf and NaN in either form and writes no gradient; views of one buffer are read once', async () => {
    for (const { bad, n, at, v } of nonFiniteCases()) {
      const g = T.tensor(v, [n]);
      const clean = T.tensor(randomArray(16, 4), [16]);
      const found = T.zeros([1]);
      T.nonFiniteCheck([clean, g, clean.view([4, 4])], found);
      expect(await found.item(), `${bad} at ${at} of ${n}`).toBe(1);
      expect(Array.from(await g.toArray())).toEqual(Array.from(v));
    }
    const edge = T.tensor(new Float32Array([3.4e38, -3.4e38, 1e-45, -1e-40, 0, -0, 1, 2]), [8]);
    const found = T.zeros([1]);
    T.nonFiniteCheck([edge, T.zeros([0]), T.tensor([1, 2, 3], [3])], found);
    expect(await found.item()).toBe(0);
    expect(() => T.nonFiniteCheck([T.zeros([4], 'float16')], found)).toThrow(/nonFiniteCheck: gradients must be float32/);
    expect(() => T.nonFiniteCheck([found], found)).toThrow(/foundInf shares its buffer/);
  });
});
