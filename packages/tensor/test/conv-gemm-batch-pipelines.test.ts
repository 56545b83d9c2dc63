/**
 * On a GPU adapter the convolutions run as implicit GEMMs with per-layer tuned tiles and split-K
 * counts that follow the batch size. On Dawn's null backend (a GPU adapter as far as the code
 * paths go: it compiles every shader and runs nothing) ResNet-18's conv layers at 64 px, run at
 * batch 4 then 16 and tuned (at 16, the largest batch seen), must compile nothing new and tune
 * nothing again at batch 8, 4 and 1 (a partial last batch, evaluation batches).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { useDevice } from './helpers.ts';

// Tuning results go to a throwaway cache directory: none read from, or written to, the user's.
const cache = mkdtempSync(join(tmpdir(), 'cxr-conv-batch-'));
const savedCache = process.env.CXR_CACHE;
process.env.CXR_CACHE = cache;
afterAll(() => {
  if (savedCache === undefined) delete process.env.CXR_CACHE;
  else process.env.CXR_CACHE = savedCache;
  rmSync(cache, { recursive: true, force: true });
});

useDevice({ flags: ['backend=null'] });

/** ResNet-18's conv layers at 64 px (input channels, size, output channels, kernel, stride, padding). */
const layers: [number, number, number, number, number, number][] = [
  [3, 64, 64, 7, 2, 3],
  [64, 16, 64, 3, 1, 1],
  [64, 16, 128, 3, 2, 1],
  [64, 16, 128, 1, 2, 0],
  [128, 8, 128, 3, 1, 1],
  [128, 8, 256, 3, 2, 1],
  [128, 8, 256, 1, 2, 0],
  [256, 4, 256, 3, 1, 1],
  [256, 4, 512, 3, 2, 1],
  [256, 4, 512, 1, 2, 0],
  [512, 2, 512, 3, 1, 1],
];

/** Forward, input gradient and weight gradient of every layer at batch n (operands left unset: nothing runs). */
function passes(n: number): void {
  for (const [C, S, O, K, s, p] of layers) {
    const o = { stride: s, padding: p };
    const x = T.Tensor.empty([n, C, S, S], 'float32', 'x');
    const w = T.Tensor.empty([O, C, K, K], 'float32', 'w');
    const y = T.conv2d(x, w, null, o);
    const dx = T.conv2dBackwardInput(y, w, x.shape, o);
    const dw = T.conv2dBackwardWeight(y, x, w.shape, o);
    for (const t of [x, w, y, dx, dw]) t.dispose();
  }
}

describe('GPU-path conv pipelines shared across batch sizes (backend=null)', () => {
  it('batch 8, 4 and 1 after 16 compile no conv pipeline and tune no shape again', async () => {
    expect(T.gpu().isCpuAdapter).toBe(false);
    T.resetConvTuning();
    passes(4);
    passes(16);
    // Small candidate lists keep the compiles few; split targets from never to always.
    const gemm: T.ConvShapeChoice[] = [
      { gemm: { tm: 4, tn: 4, wgM: 16, wgN: 16, tk: 16 }, splitTarget: 1024 },
      { gemm: { tm: 8, tn: 8, wgM: 16, wgN: 16, tk: 8, layout: 'blocked' }, splitTarget: 0 },
    ];
    const weight: T.ConvShapeChoice[] = [{ gemm: { tm: 4, tn: 4, wgM: 16, wgN: 16, tk: 32 }, splitTarget: 1024 }];
    const tuned = await T.autotuneConv({ persist: false, reps: 1, candidates: { gemm, weight } });
    expect(tuned.length).toBe(3 * layers.length);
    expect(tuned.map((r) => r.batch)).toEqual(tuned.map(() => 16));
    passes(16);
    const compiled = T.memoryStats().pipelines;
    for (const n of [8, 4, 1]) {
      passes(n);
      expect(T.memoryStats().pipelines, `new pipelines at batch ${n}`).toBe(compiled);
      expect(await T.autotuneConv({ persist: false, reps: 1, candidates: { gemm, weight } }), `shapes tuned again at batch ${n}`).toEqual([]);
    }
  });
});
