import { describe, expect, it } from 'vitest';
import { conv2d, gpu, tensor } from '../src/index.ts';
import { memoWgsl } from '../src/kernel/memo.ts';
import { randomArray, useDevice } from './helpers.ts';

useDevice();

describe('kernel source caches', () => {
  it('memoWgsl: equal arguments give the same object without regenerating; others generate; the cache starts over past its bound', () => {
    let calls = 0;
    const gen = memoWgsl((s: { n: number }, k: number) => {
      calls++;
      return { wgsl: `n ${s.n} k ${k}` };
    }, 3);
    const a = gen({ n: 1 }, 2);
    expect(gen({ n: 1 }, 2)).toBe(a);
    expect(calls).toBe(1);
    expect(gen({ n: 1 }, 3).wgsl).toBe('n 1 k 3');
    expect(gen({ n: 2 }, 2).wgsl).toBe('n 2 k 2');
    expect(calls).toBe(3);
    // A fourth entry clears the three kept: the first is generated again.
    gen({ n: 3 }, 2);
    expect(gen({ n: 1 }, 2)).not.toBe(a);
    expect(calls).toBe(5);
  });

  it('pipelines are cached by body and prelude: a body with other bindings compiles again, an equal pair does not', () => {
    const cache = gpu().pipelines;
    const body = '@compute @workgroup_size(1)\nfn main() { out_set(0u, 1.0); }\n';
    const prelude = (binding: number) =>
      `@group(0) @binding(${binding}) var<storage, read_write> out: array<f32>;\nfn out_set(i: u32, value_: f32) { out[i] = value_; }\n`;
    const n = cache.size;
    const p0 = cache.get(prelude(0), body, 't');
    expect(cache.get(prelude(0), `${body}`, 't')).toBe(p0);
    expect(cache.size).toBe(n + 1);
    expect(cache.get(prelude(1), body, 't')).not.toBe(p0);
    expect(cache.size).toBe(n + 2);
  });

  it('repeated conv calls reuse their pipeline and give the same values', async () => {
    const x = tensor(randomArray(2 * 9 * 6 * 7, 1), [2, 9, 6, 7]);
    const w = tensor(randomArray(5 * 9 * 3 * 3, 2), [5, 9, 3, 3]);
    const first = conv2d(x, w, null, { padding: 1 });
    const n = gpu().pipelines.size;
    const again = conv2d(x, w, null, { padding: 1 });
    expect(gpu().pipelines.size).toBe(n);
    expect(Array.from(await again.toArray())).toEqual(Array.from(await first.toArray()));
    for (const t of [x, w, first, again]) t.dispose();
  });
});
