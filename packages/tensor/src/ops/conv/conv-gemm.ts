import { gpu, type Gpu } from '../../device/device.ts';
import { platform } from '../../device/platform.ts';
import { grid1d, runKernel } from '../../kernel/run.ts';
import { Tensor } from '../../tensor.ts';
import type { DType } from '../../dtype.ts';
import {
  convSplitOf,
  fitSharedMemory,
  gemmConvGrid,
  gemmConvSharedBytes,
  gemmConvSplitK,
  gemmConvUniforms,
  gemmConvWgsl,
  sumSplitsWgsl,
  type ConvGemmConfig,
  type GemmConvSpec,
} from './conv-gemm.wgsl.ts';
import type { ConvGeometry } from './geometry.ts';
import { convTiles } from './tiles.ts';
import { memoWgsl } from '../../kernel/memo.ts';

/** Generated once per spec (see memoWgsl). */
const cachedGemmConvWgsl = memoWgsl(gemmConvWgsl);

// Dispatch of the implicit-GEMM conv kernels on GPUs: tile choice (defaults, or per shape from
// `autotuneConv`), split-K for small maps, and the in-order sum of the split slices.

/** Bump when the GEMM conv generators change, so stale per-shape choices on disk are ignored. */
const CONV_KERNEL_VERSION = 2;

/** One tuned choice: tiles and split target of the forward / input-gradient GEMM, or of the weight gradient's. */
export interface ConvShapeChoice {
  gemm: ConvGemmConfig;
  /** Split-K when the output tiles are fewer than this many workgroups (0 = never). */
  splitTarget: number;
}

export type ConvGemmOp = 'conv2d' | 'conv2dBackwardInput' | 'conv2dBackwardWeight';

/**
 * The shape key of a conv pass: op, input channels and size, weight and geometry, and the
 * activations' dtype. The batch size is left out: a layer keeps the choice tuned at its first
 * batch (a partial last batch or an evaluation batch neither re-tunes nor compiles other tiles;
 * split counts follow the batch as uniforms). float16 halves the loaders' memory traffic, so its
 * best tiles and split may differ: it is tuned (on float16 operands) under its own key, and
 * float32 keeps the key it always had, so choices already on disk stay valid.
 */
export function convShapeKey(op: ConvGemmOp, g: ConvGeometry, dtype: DType = 'float32'): string {
  const key = `${op} x${g.C}x${g.H}x${g.W} w${g.O}x${g.C / g.groups}x${g.KH}x${g.KW} s${g.sh},${g.sw} p${g.ph},${g.pw} d${g.dh},${g.dw} g${g.groups}`;
  return dtype === 'float32' ? key : `${key} ${dtype}`;
}

const tuned = new WeakMap<Gpu, Map<string, ConvShapeChoice>>();
/** Shapes run on the GEMM path without a tuned choice, for `autotuneConv` (at the largest batch seen). */
const untuned = new Map<string, { op: ConvGemmOp; g: ConvGeometry; dtype: DType }>();
let forced: { key: string; choice: ConvShapeChoice } | null = null;
/** Every tuning of this process, for reports (one entry per shape tuned). */
const log: ConvTuneResult[] = [];

const cacheFile = 'conv-tune.json';
const cacheKey = (g: Gpu) => `v${CONV_KERNEL_VERSION} ${g.adapterName}`;

function readDiskCache(): Record<string, Record<string, ConvShapeChoice>> {
  try {
    return JSON.parse(platform().cache?.read(cacheFile) ?? '{}') as Record<string, Record<string, ConvShapeChoice>>;
  } catch {
    return {};
  }
}

function tunedHere(): Map<string, ConvShapeChoice> {
  const g = gpu();
  let m = tuned.get(g);
  if (!m) {
    m = new Map(Object.entries(readDiskCache()[cacheKey(g)] ?? {}));
    tuned.set(g, m);
  }
  return m;
}

/** The tuned (or forced) choice for this shape, or null (defaults); records untuned shapes. */
export function convShapeChoice(op: ConvGemmOp, g: ConvGeometry, dtype: DType): ConvShapeChoice | null {
  const key = convShapeKey(op, g, dtype);
  if (forced && forced.key === key) return forced.choice;
  const c = tunedHere().get(key);
  // Tuned once per layer shape: at the largest batch seen before tuning (a full batch, not a
  // first evaluation of one image).
  if (!c && (untuned.get(key)?.g.N ?? -1) < g.N) untuned.set(key, { op, g: { ...g }, dtype });
  return c ?? null;
}

/** How a forward / input-gradient GEMM runs: tiles and the split count shared by its stride classes. */
export interface GemmConvPlan {
  c: ConvGemmConfig;
  S: number;
}

/** Tiles and split-K for the forward / input gradient of geometry `g` (output `out`); `spec` is its first (largest) stride class. */
export function planGemmConv(op: ConvGemmOp, g: ConvGeometry, spec: GemmConvSpec, out: Tensor): GemmConvPlan {
  const outElems = out.size;
  const tiles = convTiles();
  const choice = convShapeChoice(op, g, out.dtype);
  const limit = gpu().limits.maxComputeWorkgroupStorageSize;
  const maxWg = gpu().limits.maxComputeWorkgroupsPerDimension;
  let c = choice?.gemm ?? tiles.gemm;
  const splitTarget = choice?.splitTarget ?? tiles.gemmSplitTarget;
  // Without split-K, a small grid falls back to the small tiles (the pre-split behaviour).
  if (!choice && splitTarget === 0 && gemmConvGrid(spec, c, maxWg).reduce((a, b) => a * b, 1) < tiles.gemmSmallBelow) c = tiles.gemmSmall;
  c = fitSharedMemory(op, c, gemmConvSharedBytes, limit);
  const S = splitTarget > 0 ? gemmConvSplitK(spec, c, splitTarget, outElems, Math.min(tiles.wPartialBytes, gpu().pageElements * 4)) : 1;
  return { c, S };
}

/** Records one stride class of the GEMM into `target` (the output, or the [S, ...] split slices). */
export function dispatchGemmConv(op: string, spec: GemmConvSpec, plan: GemmConvPlan, src: Tensor, w: Tensor, bias: Tensor | null, target: Tensor): void {
  const maxWg = gpu().limits.maxComputeWorkgroupsPerDimension;
  const split = convSplitOf(spec, plan.c, plan.S);
  runKernel({
    name: plan.S > 1 ? `${op}.splitK` : op,
    body: cachedGemmConvWgsl(spec, plan.c),
    // The bias is bound split or not (one pipeline); split slices leave it to the sum.
    inputs: bias ? { src, w, bias } : { src, w },
    outputs: { out: target },
    uniforms: gemmConvUniforms(spec, split),
    workgroups: gemmConvGrid(spec, plan.c, maxWg, plan.S),
  });
}

/** Where a plan's stride classes write: the output itself, or S float32 slices to sum afterwards (only the sum rounds to a float16 output). */
export function gemmConvTarget(op: string, plan: GemmConvPlan, out: Tensor): Tensor {
  return plan.S > 1 ? Tensor.empty([plan.S, out.size], 'float32', `${op}.splitK`) : out;
}

/** Sums the split slices into `out` in order (adding the bias), and frees them. */
export function finishGemmConv(op: string, plan: GemmConvPlan, part: Tensor, out: Tensor, bias: Tensor | null): void {
  if (plan.S === 1) return;
  const [, O, OH, OW] = out.shape;
  runKernel({
    name: `${op}.sumSplits`,
    body: sumSplitsWgsl(bias ? { O, hw: OH * OW } : null, 256),
    inputs: bias ? { part, bias } : { part },
    outputs: { out },
    uniforms: { S: ['u32', plan.S], total: ['u32', out.size] },
    workgroups: grid1d(out.size, 256),
  });
  part.dispose();
}

/** Candidates `autotuneConv` times for a forward / input-gradient shape on a GPU. */
export function convGemmCandidates(): ConvShapeChoice[] {
  const t = convTiles();
  const s = (tm: number, tn: number, wgM: number, wgN: number, tk: number, layout: ConvGemmConfig['layout'] = 'strided'): ConvGemmConfig => ({
    tm,
    tn,
    wgM,
    wgN,
    tk,
    layout,
  });
  return [
    { gemm: t.gemm, splitTarget: t.gemmSplitTarget },
    { gemm: t.gemm, splitTarget: 0 },
    { gemm: t.gemmSmall, splitTarget: 0 },
    { gemm: s(8, 8, 16, 16, 8, 'blocked'), splitTarget: t.gemmSplitTarget },
    { gemm: { ...s(8, 8, 16, 16, 8, 'blocked'), prefetch: true }, splitTarget: t.gemmSplitTarget },
    { gemm: { ...t.gemm, prefetch: true }, splitTarget: t.gemmSplitTarget },
    { gemm: s(4, 8, 16, 16, 16, 'blocked'), splitTarget: t.gemmSplitTarget },
    { gemm: s(8, 4, 16, 16, 16, 'blocked'), splitTarget: t.gemmSplitTarget },
  ];
}

/** Candidates for the weight-gradient GEMM (its split target is `gemmWgTarget`). */
export function convWeightGradCandidates(): ConvShapeChoice[] {
  const t = convTiles();
  return [
    { gemm: t.wGemm, splitTarget: t.gemmWgTarget },
    { gemm: t.wGemm, splitTarget: 4 * t.gemmWgTarget },
    { gemm: { tm: 4, tn: 4, wgM: 16, wgN: 16, tk: 16 }, splitTarget: t.gemmWgTarget },
    { gemm: { tm: 8, tn: 8, wgM: 16, wgN: 16, tk: 8, layout: 'blocked' }, splitTarget: t.gemmWgTarget },
    { gemm: { tm: 4, tn: 8, wgM: 16, wgN: 16, tk: 16, layout: 'blocked' }, splitTarget: t.gemmWgTarget },
    { gemm: { tm: 8, tn: 8, wgM: 16, wgN: 16, tk: 8, layout: 'blocked', prefetch: true }, splitTarget: t.gemmWgTarget },
  ];
}

export interface ConvTuneOptions {
  reps?: number;
  persist?: boolean;
  /** Replaces the candidate lists (tests). */
  candidates?: { gemm?: ConvShapeChoice[]; weight?: ConvShapeChoice[] };
}

export interface ConvTuneResult {
  key: string;
  /** The batch size the candidates were timed at (the choice serves every batch size). */
  batch: number;
  best: ConvShapeChoice;
  timings: { choice: ConvShapeChoice; ms: number }[];
}

/**
 * Times the candidates of every conv shape that ran on the implicit-GEMM path without a tuned
 * choice since the last call (on random operands of the same shapes), keeps the fastest per shape
 * in memory and in `conv-tune.json` in the cache directory (keyed by adapter and kernel version).
 * Milliseconds per shape on a GPU (plus a few pipeline compiles); meant for GPU adapters, after a
 * model's first step has run its shapes once. `run` performs one pass of a shape (the conv ops,
 * passed in to keep this module free of a cycle with conv.ts).
 */
export async function tuneConvShapes(
  run: (op: ConvGemmOp, g: ConvGeometry, x: Tensor, w: Tensor, dy: Tensor) => Tensor,
  options: ConvTuneOptions = {},
): Promise<ConvTuneResult[]> {
  const dev = gpu();
  const reps = options.reps ?? 3;
  const results: ConvTuneResult[] = [];
  const todo = [...untuned.entries()];
  untuned.clear();
  for (const [key, { op, g, dtype }] of todo) {
    if (tunedHere().has(key)) continue;
    // The dtype the shape ran in (part of its key): float16 operands time float16 loads and stores.
    const x = Tensor.empty([g.N, g.C, g.H, g.W], dtype, 'autotuneConv x');
    const w = Tensor.empty([g.O, g.C / g.groups, g.KH, g.KW], dtype, 'autotuneConv w');
    const dy = Tensor.empty([g.N, g.O, g.OH, g.OW], dtype, 'autotuneConv dy');
    const timings: ConvTuneResult['timings'] = [];
    try {
      const cands =
        op === 'conv2dBackwardWeight' ? (options.candidates?.weight ?? convWeightGradCandidates()) : (options.candidates?.gemm ?? convGemmCandidates());
      for (const choice of cands) {
        forced = { key, choice };
        try {
          run(op, g, x, w, dy).dispose(); // compile + warm
          await dev.batcher.sync('autotuneConv');
          let best = Infinity;
          for (let r = 0; r < reps; r++) {
            const t0 = performance.now();
            run(op, g, x, w, dy).dispose();
            await dev.batcher.sync('autotuneConv');
            best = Math.min(best, performance.now() - t0);
          }
          timings.push({ choice, ms: best });
        } catch {
          /* a candidate this device cannot run (workgroup limits): skip it */
        }
      }
    } finally {
      forced = null;
      x.dispose();
      w.dispose();
      dy.dispose();
    }
    if (timings.length === 0) continue;
    const best = timings.reduce((a, b) => (b.ms < a.ms ? b : a)).choice;
    tunedHere().set(key, best);
    results.push({ key, batch: g.N, best, timings });
    log.push({ key, batch: g.N, best, timings });
  }
  if (options.persist !== false && results.length > 0) {
    try {
      const all = readDiskCache();
      all[cacheKey(dev)] = Object.fromEntries(tunedHere());
      platform().cache?.write(cacheFile, JSON.stringify(all, null, 2));
    } catch {
      /* read-only cache: keep the in-memory choices */
    }
  }
  return results;
}

/** Forgets the per-shape choices and the recorded shapes of this device (tests). */
export function resetConvTuning(): void {
  tuned.delete(gpu());
  untuned.clear();
}

/** The per-shape choices in use on this device, and this process's tuning timings (reports). */
export function convTuning(): { choices: Record<string, ConvShapeChoice>; tuned: ConvTuneResult[] } {
  return { choices: Object.fromEntries(tunedHere()), tuned: [...log] };
}
