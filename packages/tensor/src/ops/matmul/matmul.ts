import { gpu, type Gpu } from '../../device/device.js';
import { platform } from '../../device/platform.js';
import { broadcastShapes, fmt } from '../../shape.js';
import { Tensor } from '../../tensor.js';
import { runKernel } from '../../kernel/run.js';
import {
  lanesGrid, lanesWgsl, sharedGrid, sharedWgsl, type LanesConfig, type MatmulConfig, type MatmulSpec, type SharedConfig,
} from './matmul.wgsl.js';

export type { MatmulConfig, LanesConfig, SharedConfig } from './matmul.wgsl.js';

export interface MatmulOptions {
  /** Treat `a`'s last two dims as transposed ([.., K, M] stored), without copying. */
  transA?: boolean;
  /** Treat `b`'s last two dims as transposed ([.., N, K] stored), as a Linear weight [out, in]. */
  transB?: boolean;
}

/** Bump when the generators change, so stale tuning results on disk are ignored. */
const KERNEL_VERSION = 2;

/** Defaults before (or without) autotuning: measured best on lavapipe; shared tiles on GPUs. */
export const cpuDefault: LanesConfig = { kind: 'lanes', tu: 8, tv: 4, lanes: 8, kb: 8, laneAxis: 'auto', uLoad: 'shuffle' };
export const gpuDefault: SharedConfig = { kind: 'shared', tm: 4, tn: 4, wgM: 16, wgN: 16, tk: 16 };

/**
 * Whether the 'shuffle' variant is safe here: the subgroups feature, and subgroups at least as
 * wide as the 8-invocation workgroup (so a workgroup is one subgroup).
 */
function canShuffle(g: Gpu, lanes: number): boolean {
  const info = g.adapter.info as GPUAdapterInfo & { subgroupMinSize?: number };
  return g.device.features.has('subgroups') && (info.subgroupMinSize ?? 0) >= lanes;
}

/** Candidates the autotuner times on this kind of adapter. */
export function matmulCandidates(cpu: boolean): MatmulConfig[] {
  if (cpu) {
    const l = (tu: number, tv: number, uLoad: LanesConfig['uLoad']): LanesConfig => ({ kind: 'lanes', tu, tv, lanes: 8, kb: 8, laneAxis: 'auto', uLoad });
    // Without subgroups: uniform loads of A (about half as fast on lavapipe).
    if (!canShuffle(gpu(), 8)) return [l(4, 4, 'uniform'), l(8, 4, 'uniform')];
    const list: MatmulConfig[] = [cpuDefault, l(16, 2, 'shuffle'), l(4, 4, 'shuffle'), l(4, 4, 'uniform')];
    return list;
  }
  const s = (tm: number, tn: number, wgM: number, wgN: number, tk: number): SharedConfig => ({ kind: 'shared', tm, tn, wgM, wgN, tk });
  return [gpuDefault, s(4, 4, 8, 8, 16), s(8, 8, 16, 16, 8)];
}

const chosen = new WeakMap<Gpu, MatmulConfig>();
let override: MatmulConfig | null = null;

const cacheFile = 'matmul-tune.json';
const cacheKey = (g: Gpu) => `v${KERNEL_VERSION} ${g.adapterName}`;

function readDiskCache(): Record<string, MatmulConfig> {
  try { return JSON.parse(platform().cache?.read(cacheFile) ?? '{}') as Record<string, MatmulConfig>; } catch { return {}; }
}

/** The configuration matmul uses on this device: override, tuned (memory or disk), or default. */
export function getMatmulTiles(): MatmulConfig {
  if (override) return { ...override };
  const g = gpu();
  let c = chosen.get(g);
  if (!c) {
    c = readDiskCache()[cacheKey(g)] ?? (g.isCpuAdapter ? cpuDefault : gpuDefault);
    chosen.set(g, c);
  }
  return { ...c };
}

/** Forces a configuration (tests, experiments); `null` returns to the tuned/default one. */
export function setMatmulTiles(c: MatmulConfig | null): void {
  override = c ? { ...c } : null;
}

export interface AutotuneResult { best: MatmulConfig; timings: { config: MatmulConfig; ms: number }[]; size: number }

/**
 * Times each candidate on a mid-size problem (1024³ by default: about 2 s in all on lavapipe,
 * where 512³ proved too small to rank the tiles reliably; milliseconds on a GPU), keeps the fastest for this device in memory and in
 * `matmul-tune.json` in `cacheDir()`, keyed by adapter and kernel version.
 * `pnpm bench` calls it; the CLI only reads what a previous tuning left (until then matmul uses the defaults).
 */
export async function autotuneMatmul(options: { size?: number; reps?: number; candidates?: MatmulConfig[]; persist?: boolean } = {}): Promise<AutotuneResult> {
  const g = gpu();
  const n = options.size ?? 1024;
  const reps = options.reps ?? 3;
  const cands = options.candidates ?? matmulCandidates(g.isCpuAdapter);
  const a = Tensor.empty([n, n], 'float32', 'autotune a');
  const b = Tensor.empty([n, n], 'float32', 'autotune b');
  const saved = override;
  const timings: AutotuneResult['timings'] = [];
  try {
    for (const config of cands) {
      override = config;
      matmul(a, b).dispose(); // compile + warm
      await g.batcher.sync('autotuneMatmul');
      let best = Infinity;
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        matmul(a, b).dispose();
        await g.batcher.sync('autotuneMatmul');
        best = Math.min(best, performance.now() - t0);
      }
      timings.push({ config, ms: best });
    }
  } finally {
    override = saved;
    a.dispose();
    b.dispose();
  }
  const best = timings.reduce((x, y) => (y.ms < x.ms ? y : x)).config;
  chosen.set(g, best);
  if (options.persist !== false) {
    try {
      const all = readDiskCache();
      all[cacheKey(g)] = best;
      platform().cache?.write(cacheFile, JSON.stringify(all, null, 2));
    } catch { /* read-only home: keep the in-memory choice */ }
  }
  return { best, timings, size: n };
}

function batchStrides(batch: readonly number[], outBatch: number[], matrixSize: number): number[] {
  const strides: number[] = new Array(outBatch.length).fill(0);
  let acc = matrixSize;
  for (let d = batch.length - 1; d >= 0; d--) {
    const o = outBatch.length - batch.length + d;
    strides[o] = batch[d] === 1 ? 0 : acc;
    acc *= batch[d];
  }
  return strides;
}

/**
 * Matrix product over the last two dims with NumPy broadcasting of the leading (batch) dims,
 * either operand optionally transposed (read in place, never copied).
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const desc = () => `${fmt(a.shape)}${options.transA ? 'ᵀ' : ''} @ ${fmt(b.shape)}${options.transB ? 'ᵀ' : ''}`;
  if (a.isDisposed || b.isDisposed) throw new Error(`matmul: operand ${a.isDisposed ? 'a' : 'b'} of ${desc()} was used after dispose()`);
  if (a.rank < 2 || b.rank < 2) throw new Error(`matmul: operands need at least 2 dimensions, got ${desc()}`);
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`matmul: expects float32 operands, got ${a.dtype} and ${b.dtype} (${desc()})`);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const M = options.transA ? ac : ar;
  const K = options.transA ? ar : ac;
  const Kb = options.transB ? bc : br;
  const N = options.transB ? br : bc;
  if (K !== Kb) throw new Error(`matmul: inner dimensions differ (${K} vs ${Kb}) in ${desc()}`);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  let outBatch: number[];
  try {
    outBatch = broadcastShapes('matmul', aBatch, bBatch);
  } catch {
    throw new Error(`matmul: batch dims ${fmt(aBatch)} and ${fmt(bBatch)} cannot be broadcast in ${desc()}`);
  }
  const batches = outBatch.reduce((p, d) => p * d, 1);
  const out = Tensor.empty([...outBatch, M, N], 'float32', 'matmul');
  if (out.size === 0) return out;
  if (K === 0) throw new Error(`matmul: empty inner dimension in ${desc()}`);
  const spec: MatmulSpec = {
    M, N, K, transA: !!options.transA, transB: !!options.transB, batches, batchDims: outBatch,
    aBatchStrides: batchStrides(aBatch, outBatch, M * K), bBatchStrides: batchStrides(bBatch, outBatch, K * N),
  };
  let c = getMatmulTiles();
  if (c.kind === 'lanes' && c.uLoad === 'shuffle' && !canShuffle(gpu(), c.lanes)) c = { ...c, uLoad: 'uniform' };
  // Small M against a wide B (a Linear layer at small batch, e.g. VGG fc6: 16 x 25088 x 4096):
  // lanes along M, so the big B streams once through the cheap shared loads instead of being read
  // per lane once per 8-row tile. Measured on lavapipe at fc6: 6.8 → 10 GFLOP/s.
  if (c.kind === 'lanes' && c.laneAxis === 'auto' && M >= c.lanes && M < c.lanes * c.tv && N >= 4 * M) {
    c = { ...c, laneAxis: 'M', tv: Math.ceil(M / c.lanes) };
  }
  runKernel({
    name: 'matmul',
    body: c.kind === 'lanes' ? lanesWgsl(spec, c) : sharedWgsl(spec, c),
    inputs: { a, b },
    outputs: { out },
    workgroups: c.kind === 'lanes' ? lanesGrid(spec, c) : sharedGrid(spec, c),
  });
  return out;
}
