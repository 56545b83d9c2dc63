import { describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { randomArray, useDevice } from './helpers.ts';

useDevice();

/** float64 reference: out[n, c, s] = (x[n, c or 0, s] - mean[c]) / std[c]. */
function reference(x: Float32Array, shape: number[], mean: number[], std: number[]): Float64Array {
  const [N, Cin] = shape;
  const S = shape.slice(2).reduce((a, b) => a * b, 1);
  const C = mean.length;
  const out = new Float64Array(N * C * S);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) out[(n * C + c) * S + s] = (x[(n * Cin + (Cin === 1 ? 0 : c)) * S + s] - mean[c]) / std[c];
  return out;
}

/**
 * Largest |out - ref| in float32 spacings at the operands' scale, (|x| + |mean|) / std: a subtraction
 * near cancellation keeps the absolute error of its operands (float32 mean: half a spacing of
 * 0.5), not a relative one, so that is the scale where float32 rounding is measured.
 */
function maxUlps(out: Float32Array, x: Float32Array, shape: number[], mean: number[], std: number[]): number {
  const ref = reference(x, shape, mean, std);
  const [, Cin] = shape;
  const S = shape.slice(2).reduce((a, b) => a * b, 1);
  const C = mean.length;
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const c = Math.floor(i / S) % C;
    const n = Math.floor(i / (S * C));
    const xi = x[(n * Cin + (Cin === 1 ? 0 : c)) * S + (i % S)];
    const scale = (Math.abs(xi) + Math.abs(mean[c])) / Math.abs(std[c]);
    const ulp = 2 ** (Math.floor(Math.log2(Math.max(scale, 2 ** -126))) - 23);
    worst = Math.max(worst, Math.abs(out[i] - ref[i]) / ulp);
  }
  return worst;
}

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

describe('normalizeChannels', () => {
  // odd spatial sizes take the scalar kernel, multiples of 4 the vec4 one
  for (const [shape, mean, std] of [
    [[3, 1, 5, 7], MEAN, STD],
    [[2, 1, 6, 10], MEAN, STD],
    [[3, 3, 7, 3], MEAN, STD],
    [[2, 3, 4, 4], MEAN, STD],
    [
      [5, 1, 9],
      [0.5, -1.25],
      [2, 0.3],
    ],
    [
      [1, 2, 3, 3, 2],
      [0.1, 0.2],
      [1.5, 3],
    ],
  ] as [number[], number[], number[]][]) {
    it(`[${shape}] to ${mean.length} channels matches the float64 reference`, async () => {
      const x = randomArray(
        shape.reduce((a, b) => a * b, 1),
        shape.length * 31 + shape[0],
        0,
        1,
      );
      const t = T.tensor(x, shape);
      const out = T.normalizeChannels(t, mean, std);
      expect(out.shape).toEqual([shape[0], mean.length, ...shape.slice(2)]);
      const got = await out.toArray();
      // float32 roundings of the constants, the difference and the product
      expect(maxUlps(got, x, shape, mean, std)).toBeLessThanOrEqual(2);
      t.dispose();
      out.dispose();
    });
  }

  it('a partial batch reuses the pipeline of the full one', async () => {
    const full = T.tensor(randomArray(4 * 12, 1, 0, 1), [4, 1, 3, 4]);
    T.normalizeChannels(full, MEAN, STD).dispose();
    const before = T.gpu().pipelines.size;
    const part = T.tensor(randomArray(12, 2, 0, 1), [1, 1, 3, 4]);
    const out = T.normalizeChannels(part, MEAN, STD);
    expect(T.gpu().pipelines.size).toBe(before);
    expect(maxUlps(await out.toArray(), await part.toArray(), [1, 1, 3, 4], MEAN, STD)).toBeLessThanOrEqual(2);
    for (const t of [full, part, out]) t.dispose();
  });

  it('names what is wrong', () => {
    const x = T.zeros([2, 2, 3, 3]);
    expect(() => T.normalizeChannels(x, MEAN, STD)).toThrow(/normalizeChannels: input \[2,2,3,3\] must be \[N, 1 or 3, \.\.\.\]/);
    expect(() => T.normalizeChannels(x, [0, 0], [1])).toThrow(/same non-zero length/);
    expect(() => T.normalizeChannels(x, [0, 0], [1, 0])).toThrow(/std must be finite and non-zero/);
    expect(() => T.normalizeChannels(T.zeros([2, 1], 'int32'), [0], [1])).toThrow(/float32/);
    x.dispose();
  });
});
