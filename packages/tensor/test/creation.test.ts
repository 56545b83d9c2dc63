import { describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { useDevice } from './helpers.ts';

useDevice();

function moments(a: Float32Array): { mean: number; std: number } {
  const mean = a.reduce((p, v) => p + v, 0) / a.length;
  const std = Math.sqrt(a.reduce((p, v) => p + (v - mean) ** 2, 0) / a.length);
  return { mean, std };
}

describe('creation', () => {
  it('from nested arrays, typed arrays and shapes', async () => {
    const t = T.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(await t.toArray())).toEqual([1, 2, 3, 4, 5, 6]);
    const i = T.tensor(new Int32Array([7, -8]));
    expect(i.dtype).toBe('int32');
    expect(Array.from(await i.toInt32Array())).toEqual([7, -8]);
    expect(() => T.tensor([[1, 2], [3]])).toThrow(/tensor: ragged nested array/);
    expect(() => T.tensor(new Float32Array(5), [2, 3])).toThrow(/tensor: 5 values do not fill shape \[2,3\]/);
    expect(await T.tensor(3.5).item()).toBe(3.5);
  });

  it('zeros, ones, full and arange', async () => {
    expect(Array.from(await T.zeros([3]).toArray())).toEqual([0, 0, 0]);
    expect(Array.from(await T.ones([2, 2]).toArray())).toEqual([1, 1, 1, 1]);
    expect(Array.from(await T.full([2], -1.5).toArray())).toEqual([-1.5, -1.5]);
    expect(Array.from(await T.full([2], 7, 'int32').toInt32Array())).toEqual([7, 7]);
    expect(Array.from(await T.arange(2, 11, 3).toArray())).toEqual([2, 5, 8]);
    expect(Array.from(await T.arange(4, undefined, 1, 'int32').toInt32Array())).toEqual([0, 1, 2, 3]);
    expect(() => T.arange(0, 5, 0)).toThrow(/arange: invalid range/);
    expect(() => T.zeros([2, -1])).toThrow(/full: invalid shape \[2,-1\]/);
  });

  it('int32 arange is exact past 2^24 (it went through f32 and repeated values)', async () => {
    const near = await T.arange(16777210, 16777233, 1, 'int32').toInt32Array();
    expect(Array.from(near)).toEqual(Array.from({ length: 23 }, (_, i) => 16777210 + i));
    // An odd step across the whole signed range: every value start + i·step, exactly.
    const wide = await T.arange(-100000007, 100000000, 1000003, 'int32').toInt32Array();
    expect(wide.length).toBe(Math.ceil(200000007 / 1000003));
    let wrong = 0;
    for (let i = 0; i < wide.length; i++) if (wide[i] !== -100000007 + i * 1000003) wrong++;
    expect(wrong).toBe(0);
    expect(Array.from(await T.arange(7, -8, -5, 'int32').toInt32Array())).toEqual([7, 2, -3]);
  });

  it('full fills every element in both forms: vec4 (size a multiple of 4, several workgroups) and scalar', async () => {
    // 4 x 257 = 1028 floats: 257 vec4 stores, one past a 256-invocation workgroup.
    expect(Array.from(await T.full([4, 257], -2.5).toArray()).every((v) => v === -2.5)).toBe(true);
    const odd = Array.from(await T.full([3, 343], 0.75).toArray());
    expect(odd.length).toBe(1029);
    expect(odd.every((v) => v === 0.75)).toBe(true);
    expect(Array.from(await T.full([8], -3, 'int32').toInt32Array())).toEqual([-3, -3, -3, -3, -3, -3, -3, -3]);
  });
});

describe('seeded counter-based random numbers', () => {
  it('same seed gives the same numbers; different seeds and calls differ', async () => {
    const a = await T.rand([1000], { seed: 42 }).toArray();
    const b = await T.rand([1000], { seed: 42 }).toArray();
    const c = await T.rand([1000], { seed: 43 }).toArray();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(a.filter((v, i) => v === c[i]).length).toBeLessThan(5);
    const g = new T.Generator(7);
    const g1 = await T.rand([100], { generator: g }).toArray();
    const g2 = await T.rand([100], { generator: g }).toArray();
    expect(Array.from(g1)).not.toEqual(Array.from(g2));
    const replay = new T.Generator(7, 1);
    expect(Array.from(await T.rand([100], { generator: replay }).toArray())).toEqual(Array.from(g2));
  });

  it('rand is uniform on [low, high)', async () => {
    const a = await T.rand([20000], { seed: 1, low: -2, high: 3 }).toArray();
    expect(Math.min(...a)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...a)).toBeLessThan(3);
    const m = moments(a);
    expect(m.mean).toBeCloseTo(0.5, 1);
    expect(m.std).toBeCloseTo(5 / Math.sqrt(12), 1);
  });

  it('randn has the requested mean and std', async () => {
    const m = moments(await T.randn([20000], { seed: 2, mean: 1, std: 3 }).toArray());
    expect(Math.abs(m.mean - 1)).toBeLessThan(0.1);
    expect(Math.abs(m.std - 3)).toBeLessThan(0.1);
  });

  it('randint covers [low, high) evenly', async () => {
    const r = await T.randint(-3, 4, [14000], { seed: 3 }).toInt32Array();
    const counts = new Map<number, number>();
    for (const v of r) counts.set(v, (counts.get(v) ?? 0) + 1);
    expect([...counts.keys()].sort((x, y) => x - y)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    for (const n of counts.values()) expect(Math.abs(n - 2000)).toBeLessThan(200);
  });

  it('manualSeed resets the default generator', async () => {
    T.manualSeed(5);
    const a = await T.randn([50]).toArray();
    T.manualSeed(5);
    expect(Array.from(await T.randn([50]).toArray())).toEqual(Array.from(a));
  });
});
