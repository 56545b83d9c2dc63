import { gpu, onDeviceOpen, type Gpu } from '../../device/device.ts';
import { platform } from '../../device/platform.ts';
import { Tensor } from '../../tensor.ts';
import { sharedBytes, type LanesConfig, type MatmulConfig, type SharedConfig } from './matmul.wgsl.ts';
import { matmul } from './matmul.ts';

// Per-adapter choice of matmul tiles: candidates, timing, and the on-disk cache of the winner.

/** Bump when the generators change, so stale tuning results on disk are ignored. */
const KERNEL_VERSION = 4;

/** Defaults before (or without) autotuning: measured best on lavapipe; shared tiles on GPUs. */
export const cpuDefault: LanesConfig = { kind: 'lanes', tu: 8, tv: 4, lanes: 8, kb: 8, laneAxis: 'auto', uLoad: 'shuffle' };
export const gpuDefault: SharedConfig = { kind: 'shared', tm: 4, tn: 4, wgM: 16, wgN: 16, tk: 16, layout: 'strided' };

/**
 * Whether the 'shuffle' variant is safe here: the subgroups feature, and subgroups at least as
 * wide as the 8-invocation workgroup (so a workgroup is one subgroup).
 */
export function canShuffle(g: Gpu, lanes: number): boolean {
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
  const s = (tm: number, tn: number, wgM: number, wgN: number, tk: number, layout: SharedConfig['layout'] = 'strided'): SharedConfig => ({
    kind: 'shared',
    tm,
    tn,
    wgM,
    wgN,
    tk,
    layout,
  });
  const list = [
    gpuDefault,
    s(8, 8, 16, 16, 8),
    // 'blocked': vec4 reads of workgroup memory, a quarter of the shared loads per FMA.
    s(4, 4, 16, 16, 16, 'blocked'),
    s(8, 8, 16, 16, 8, 'blocked'),
    s(8, 8, 16, 16, 16, 'blocked'),
    s(8, 4, 16, 16, 16, 'blocked'),
    s(8, 8, 8, 16, 16, 'blocked'),
    // 'prefetch': the next K tile's global loads in flight during this tile's FMAs.
    { ...s(8, 8, 16, 16, 8, 'blocked'), prefetch: true },
    { ...s(8, 4, 16, 16, 16, 'blocked'), prefetch: true },
  ];
  // Only tiles that fit this device's workgroup memory whatever the transposes.
  const limit = hasLimits() ? gpu().limits.maxComputeWorkgroupStorageSize : 16384;
  return list.filter((c) => sharedBytes({ transA: false, transB: true }, c) <= limit);
}

function hasLimits(): boolean {
  try {
    gpu();
    return true;
  } catch {
    return false;
  }
}

const chosen = new WeakMap<Gpu, MatmulConfig>();
let override: MatmulConfig | null = null;

// In the platform's cache (Node: the cache directory; a browser keeps tuning in memory only).
const cacheFile = 'matmul-tune.json';
const cacheKey = (g: Gpu) => `v${KERNEL_VERSION} ${g.adapterName}`;

function readDiskCache(): Record<string, MatmulConfig> {
  try {
    return JSON.parse(platform().cache?.read(cacheFile) ?? '{}') as Record<string, MatmulConfig>;
  } catch {
    return {};
  }
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

/** Whether `setMatmulTiles` forces a configuration (then small problems take it too). */
export function matmulTilesForced(): boolean {
  return override !== null;
}

/** Forces a configuration (tests, experiments); `null` returns to the tuned/default one. */
export function setMatmulTiles(c: MatmulConfig | null): void {
  override = c ? { ...c } : null;
}

export interface AutotuneResult {
  best: MatmulConfig;
  timings: { config: MatmulConfig; ms: number }[];
  size: number;
}

/**
 * Times each candidate on a mid-size problem (1024³ by default: about 2 s in all on lavapipe,
 * where 512³ proved too small to rank the tiles reliably; milliseconds on a GPU), keeps the fastest for this device in memory and in
 * `matmul-tune.json` in `cacheDir()`, keyed by adapter and kernel version.
 * On a GPU adapter it runs when the device opens (unless a tuning for this adapter and kernel
 * version is cached); on a CPU adapter `pnpm bench` calls it and the CLI only reads what it left.
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
    } catch {
      /* read-only home: keep the in-memory choice */
    }
  }
  return { best, timings, size: n };
}

// GPU adapters: tune at device open (milliseconds of kernel time plus a few pipeline compiles).
onDeviceOpen(async (g) => {
  if (g.isCpuAdapter || readDiskCache()[cacheKey(g)]) return;
  await autotuneMatmul({ size: 2048 });
});
