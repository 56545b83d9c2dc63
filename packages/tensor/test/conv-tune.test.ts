// Per-shape tile tuning of the implicit-GEMM conv kernels, forced on the CPU adapter (on a GPU it
// runs by itself after training steps): shapes are recorded on first use, every candidate is timed,
// the winner is kept per shape and used afterwards, and results stay correct under it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  autotuneConv,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  convTuning,
  resetConvTiles,
  resetConvTuning,
  setConvTiles,
  tensor,
  type ConvShapeChoice,
} from '../src/index.ts';
import { randomArray, relErr, sizeOf, useDevice } from './helpers.ts';
import { refConv2d, refConv2dBackwardInput, refConv2dBackwardWeight, refGeom } from './reference/conv.ts';

useDevice();
beforeAll(() => setConvTiles({ path: 'implicitGemm' }));
afterAll(() => {
  resetConvTiles();
  resetConvTuning();
});

// Small tiles: lavapipe compiles them in a fraction of a second.
const gemm: ConvShapeChoice[] = [
  { gemm: { tm: 2, tn: 2, wgM: 4, wgN: 4, tk: 4 }, splitTarget: 0 },
  { gemm: { tm: 2, tn: 2, wgM: 4, wgN: 4, tk: 4 }, splitTarget: 1e6 },
  { gemm: { tm: 4, tn: 4, wgM: 2, wgN: 4, tk: 4, layout: 'blocked' }, splitTarget: 1e6 },
];
const weight: ConvShapeChoice[] = [
  { gemm: { tm: 2, tn: 2, wgM: 4, wgN: 4, tk: 4 }, splitTarget: 1 },
  { gemm: { tm: 2, tn: 2, wgM: 4, wgN: 4, tk: 8 }, splitTarget: 64 },
];

describe('autotuneConv', () => {
  it('does nothing on a CPU adapter unless forced', async () => {
    expect(await autotuneConv()).toEqual([]);
  });

  it('times the candidates of each shape used, keeps the fastest, and the tuned kernels stay correct', async () => {
    resetConvTuning();
    const xs = [2, 12, 9, 7];
    const ws = [10, 12, 3, 3];
    const o = { padding: [1, 1] as [number, number], stride: [2, 1] as [number, number] };
    const g = refGeom(xs, ws, o as never);
    const xa = randomArray(sizeOf(xs), 1);
    const wa = randomArray(sizeOf(ws), 2);
    const dya = randomArray(g.N * g.O * g.OH * g.OW, 3);
    const x = tensor(xa, xs);
    const w = tensor(wa, ws);
    const dy = tensor(dya, [g.N, g.O, g.OH, g.OW]);
    const pass = async () => {
      const y = conv2d(x, w, null, o);
      const dx = conv2dBackwardInput(dy, w, xs, o);
      const dw = conv2dBackwardWeight(dy, x, ws, o);
      const r = await Promise.all([y.toArray(), dx.toArray(), dw.toArray()]);
      for (const t of [y, dx, dw]) t.dispose();
      return r;
    };
    await pass();
    const results = await autotuneConv({ force: true, persist: false, reps: 1, candidates: { gemm, weight } });
    expect(results.map((r) => r.key.split(' ')[0]).sort()).toEqual(['conv2d', 'conv2dBackwardInput', 'conv2dBackwardWeight']);
    for (const r of results) {
      const cands = r.key.startsWith('conv2dBackwardWeight') ? weight : gemm;
      expect(r.timings.length).toBe(cands.length);
      expect(r.timings.every((t) => t.ms > 0)).toBe(true);
      const fastest = r.timings.reduce((a, b) => (b.ms < a.ms ? b : a));
      expect(r.best).toEqual(fastest.choice);
      expect(convTuning().choices[r.key]).toEqual(r.best);
    }
    // Tuned shapes are not tuned again; the tuned kernels agree with float64.
    expect(await autotuneConv({ force: true, persist: false, reps: 1, candidates: { gemm, weight } })).toEqual([]);
    const [yo, dxo, dwo] = await pass();
    expect(relErr(yo, refConv2d(xa, wa, null, g))).toBeLessThan(1e-4);
    expect(relErr(dxo, refConv2dBackwardInput(dya, wa, g))).toBeLessThan(1e-4);
    expect(relErr(dwo, refConv2dBackwardWeight(dya, xa, g))).toBeLessThan(1e-4);
    for (const t of [x, w, dy]) t.dispose();
  });
});
