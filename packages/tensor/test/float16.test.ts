import { describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { float16ToFloat32, float32ToFloat16Bits as toHalfBits, roundToHalf } from '../src/float16.ts';

const fromHalfBits = (h: number) => float16ToFloat32(new Uint16Array([h]))[0];
import { randomArray, useDevice } from './helpers.ts';

useDevice();

// Values that exercise every branch of the conversion: normal, subnormal, ties, overflow.
const edges = [
  0,
  -0,
  1,
  -2,
  0.1,
  65504,
  65519.99,
  65520,
  1e6,
  -1e6,
  2 ** -14,
  2 ** -24,
  2 ** -25,
  1.5 * 2 ** -25,
  2 ** -26,
  6e-8,
  -1e-8,
  1 + 2 ** -11,
  1 + 3 * 2 ** -11,
  1 + 2 ** -11 + 2 ** -20,
  2048 + 1,
  2048 + 3,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
];

describe('float16 on the host', () => {
  it('rounds to nearest, ties to even, like binary16', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(65520)).toBe(0x7c00); // the tie above the largest half rounds to Infinity
    expect(toHalfBits(65519.99)).toBe(0x7bff);
    expect(toHalfBits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalfBits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal: to even
    expect(toHalfBits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie: to even (down)
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie: to even (up)
    expect(toHalfBits(2049)).toBe(toHalfBits(2048));
    expect(toHalfBits(2051)).toBe(toHalfBits(2052));
    expect(Number.isNaN(fromHalfBits(toHalfBits(Number.NaN)))).toBe(true);
    expect(Object.is(roundToHalf(-0), -0)).toBe(true);
    // Every finite half survives a round trip.
    for (let h = 0; h < 0x10000; h++) {
      const v = fromHalfBits(h);
      if (Number.isFinite(v)) expect(toHalfBits(v)).toBe(h);
    }
  });
});

describe('float16 tensors (storage only: kernels read f32 and round on store)', () => {
  it('upload and readback give the host rounding, odd sizes included', async () => {
    for (const n of [1, 3, 1001]) {
      const xs = randomArray(n, 7 + n, -300, 300);
      const t = T.tensor(xs, [n], 'float16');
      expect(t.dtype).toBe('float16');
      const back = await t.toArray();
      expect(Array.from(back)).toEqual(Array.from(xs, roundToHalf));
    }
  });

  it('cast float32 -> float16 on the GPU rounds as the host does, and float16 -> float32 is exact', async () => {
    const xs = new Float32Array([...edges, ...randomArray(999, 3, -4, 4), ...Array.from(randomArray(500, 4, -1, 1), (v) => v * 1e-5)]);
    const h = T.cast(T.tensor(xs), 'float16');
    const got = await h.toArray();
    const want = Array.from(xs, roundToHalf);
    const wrong = want.filter((v, i) => !Object.is(v, got[i]) && !(v === 0 && got[i] === 0));
    expect(wrong).toEqual([]);
    const f = await T.cast(h, 'float32').toArray();
    expect(Array.from(f)).toEqual(Array.from(got));
    expect(Array.from(await T.cast(T.tensor([2.7, -2.7], [2], 'float16'), 'int32').toInt32Array())).toEqual([2, -2]);
    // The four-at-a-time form (float dtypes, size a multiple of 4), both ways.
    const four = randomArray(1024, 9, -70000, 70000);
    const h4 = T.cast(T.tensor(four), 'float16');
    expect(Array.from(await h4.toArray())).toEqual(Array.from(four, roundToHalf));
    expect(Array.from(await T.cast(h4, 'float32').toArray())).toEqual(Array.from(four, roundToHalf));
  });

  it('full and zeros fill float16 tensors through both store forms (vec4 and scalar)', async () => {
    expect(Array.from(await T.full([8], 1.5, 'float16').toArray())).toEqual(Array(8).fill(1.5));
    expect(Array.from(await T.full([5], 0.1, 'float16').toArray())).toEqual(Array(5).fill(roundToHalf(0.1)));
    expect(Array.from(await T.zeros([3], 'float16').toArray())).toEqual([0, 0, 0]);
  });
});
