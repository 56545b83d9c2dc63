// The matmul autotuner (on a GPU adapter it runs when the device opens; here it is called directly
// with GPU-family candidates): every candidate is timed, the fastest is kept and then used.
import { describe, expect, it } from 'vitest';
import { autotuneMatmul, getMatmulTiles, gpuDefault, matmul, tensor, type SharedConfig } from '../src/index.ts';
import { randomArray, relErr, useDevice } from './helpers.ts';
import { matmulRef } from './reference/matmul.ts';

useDevice();

describe('autotuneMatmul', () => {
  it('times each candidate, keeps the fastest, and matmul then uses it correctly', async () => {
    const blocked: SharedConfig = { kind: 'shared', tm: 4, tn: 4, wgM: 4, wgN: 4, tk: 8, layout: 'blocked' };
    const r = await autotuneMatmul({ size: 64, reps: 1, candidates: [gpuDefault, blocked], persist: false });
    expect(r.timings.map((t) => t.config)).toEqual([gpuDefault, blocked]);
    expect(r.timings.every((t) => t.ms > 0)).toBe(true);
    expect(r.best).toEqual(r.timings.reduce((a, b) => (b.ms < a.ms ? b : a)).config);
    expect(getMatmulTiles()).toEqual(r.best);
    const a = randomArray(19 * 70, 1);
    const b = randomArray(33 * 70, 2);
    const out = matmul(tensor(a, [19, 70]), tensor(b, [33, 70]), { transB: true });
    expect(relErr(await out.toArray(), matmulRef(a, [19, 70], b, [33, 70], false, true).data)).toBeLessThan(1e-4);
  });
});
