import { gpu } from '../../device/device.ts';
import { canShuffle } from '../matmul/autotune.ts';
import { checkGemmConfig, type ConvGemmConfig } from './conv-gemm.wgsl.ts';
import type { ConvGeometry } from './geometry.ts';

/** The two conv kernel families; either adapter can run either one. */
export const convKernelFamilies = ['direct', 'implicitGemm'] as const;
export type ConvKernelFamily = (typeof convKernelFamilies)[number];

/**
 * A register tile for the residue classes of a strided input gradient with at most `maxTaps`
 * taps (default 2) and sub-grids at most `maxB` columns wide (see `ConvTiles.bwdFewTaps`).
 */
export interface FewTapsTile {
  TO: number;
  TP: number;
  maxB: number;
  maxTaps?: number;
}

export interface ConvTiles {
  fwdTO: number;
  fwdTP: number;
  bwdTO: number;
  bwdTP: number;
  wTO: number;
  wTR: number;
  wg: number;
  /**
   * Direct kernels, sub-grids no wider than the pixel tile (B <= TP: 8-, 4- and 2-pixel maps):
   * tiles of RT = floor(TP / B) whole rows, consecutive over N x rows (so they span images), instead
   * of one row's TP pixels with most of them idle. Their columns are written into the WGSL, so the
   * padding's dead columns are dropped (with the map width a uniform, a one-row tile could not).
   * false = always one-row tiles.
   */
  rows: boolean;
  /**
   * Direct kernels: share the weights (forward, input gradient) or dy (weight gradient) that all
   * lanes need through subgroupShuffle, in workgroups of one 8-lane subgroup (see
   * `sharedWeights` in conv.wgsl.ts). null = on where it pays and is safe: a CPU adapter with
   * the subgroups feature and subgroups of at least 8 lanes.
   */
  shuffle: boolean | null;
  /**
   * Where `shuffle` is on: forward / input-gradient source loads through a vec4 view where rows
   * allow it, and the few-channel (tap-lane) weight gradient's dy loads four columns at a time.
   */
  vec4: boolean;
  /**
   * Direct input gradient: register tiles (output channels x pixels) of the stride residue classes
   * with few taps (`maxTaps`, default 2) and sub-grids at most `maxB` columns wide, which do few FMAs
   * per shared weight load; the first rule a class fits decides (null or none = bwdTO x bwdTP). On
   * lavapipe, ResNet-18's 3x3/2 input gradients at 16 / 8 / 4 px: { TO: 16, TP: 4 } for the 1- and
   * 2-tap classes ran 57 / 63 / 50 GFLOP per 2 CPU-s against 52 / 54 / 40. The default puts every
   * class of a 3x3/2 conv (<= 4 taps) on one tile: 32 x 4 on 2-column sub-grids (4-px inputs),
   * 16 x 8 up to 8 columns (8- and 16-px inputs): 73 / 69 / 67 against 53 / 52 / 56 for
   * { TO: 16, TP: 4, maxB: 2 } alone (median call, quiet), and one pipeline per column-tap count
   * instead of two tiles' worth: ~0.3 s cold per layer against 0.65-1.2 s.
   */
  bwdFewTaps: FewTapsTile | FewTapsTile[] | null;
  /**
   * Register tiles used instead of fwdTO/fwdTP/bwdTO/bwdTP/wTO/wTR where `shuffle` is on, 128
   * accumulators each on lavapipe: 16 output channels x 8 pixels for the forward and input
   * gradient, 32 output x 4 input channels for the weight gradient (each shared dy load then
   * serves 4 x 32 FMAs). Against 8 x 8 and 16 x 4 (64 accumulators), measured alternating in one
   * process: the ResNet-18 64 px batch 16 step 308 -> 287 ms, VGG16's 224 px batch 8 step
   * 13.6 -> 12.0 s (two runs); per layer the forwards and stride-1 input gradients 12-35 % faster,
   * VGG's 64->64 @224 weight gradient 27 -> 34 GFLOP/s. The price is LLVM time at the first
   * dispatch: ~0.7 s more for the default job's forward and input-gradient pipelines and ~45 ms
   * per weight-gradient pipeline. Its first epoch on an empty shader cache took about as long as
   * before (6.5-6.8 against 6.7-6.8 s), and every later epoch is 0.3-0.5 s shorter.
   */
  shuffleTiles: Pick<ConvTiles, 'fwdTO' | 'fwdTP' | 'bwdTO' | 'bwdTP' | 'wTO' | 'wTR'>;
  /**
   * Where `shuffle` is on: stride-1 forwards and input gradients (not the unrolled few-channel
   * reductions) over maps at least `minW` output columns wide, a multiple of 4, take TO x TP
   * register tiles instead of `shuffleTiles`' (the study's 224-px inputs: ResNet-18's 56- and
   * 28-px maps, VGG's 224 to 28). Narrower maps keep the smaller tiles, so the 64-px default job
   * compiles nothing more. On lavapipe, 16 x 16 against 16 x 8 (median call, GFLOP per 2 CPU-s):
   * VGG's 64->64 @224 98 -> 122, 128->128 @112 102 -> 126, 512->512 @28 94 -> 113, ResNet-18's
   * 128->128 @28 93 -> 112, 64->64 @56 99 -> 106 (32 x 8: 108); 14- and 7-px maps no better.
   * Steps, alternating: ResNet-18 224 px b16 2457 -> 2372 ms, VGG16 224 px b8 9.55 -> 9.10 s.
   * Since the 16 x 8 tiles chain their taps (`chainTaps`; the 16 x 16 ones lost by it), they beat
   * the wide tiles on 56- and 28-px maps (another EPYC, order turned every round: VGG's 256->256
   * @56 forward / input gradient 1.15x / 1.14x, ResNet-18's 64->64 @56 1.12x / 1.14x, 512->512 @28
   * and 128->128 @28 1.03-1.07x), not clearly on 112 and 224 (0.83-1.12x): minW 60.
   * null = off.
   */
  wideMaps: { TO: number; TP: number; minW: number } | null;
  /**
   * Direct weight gradient (CPU adapter, groups 1): convs with at most this many input
   * channels and >= 16 taps (>= 9 where `shuffle` is on) use lanes over taps (convWeightGradTapsWgsl) instead of lanes over channel tiles and
   * strided row subsets (not when `wSplit` forces a split). 0 = off.
   */
  wTaps: number;
  /**
   * The tap-lane weight gradient's output channels per lane (at most 128 / C accumulators'
   * worth). On lavapipe, median call: ResNet-18's conv1 (7x7/2 over 3 channels) 51-52 -> 57-59 at
   * 64 px and 57 -> 67-68 at 224 px, VGG's conv1_1 34 -> 39 with 32 against 16 (the earlier
   * 2 x wTO); 48 and 64 slower (27-44).
   */
  wTapsTO: number;
  /**
   * Direct weight gradient where `shuffle` is on: stride-1 kernels wider than one column on maps
   * at most this many output columns wide (and sources at most twice that) use whole unrolled
   * rows with every kernel column per invocation (convWeightGradRowsWgsl). On lavapipe that was
   * ~40 % faster on 2-pixel maps (ResNet-18 layer4 at 64 px), ~15 % on 4 and slower on 8 and 16,
   * and its pipelines take ~2x as long to compile: 2 by default. 0 = off.
   */
  wRows: number;
  /**
   * convWeightGradRowsWgsl's tile: TO output channels x TR input channels x KW columns, TR as
   * many as keep TO x TR x KW within maxAcc (at most 16). On lavapipe, median call, ResNet-18's
   * 256->512 3x3/2 at 4 px (the kernel's main user since 2-px stride-1 maps take the all-taps
   * variant): 8 x 5 (the earlier fixed tile) 40-43, 16 x 4 54-57, 16 x 2 49-52, 16 x 5 52, 32 x 2
   * 52, 32 x 1 43: more output channels per x load, and x loads (vec4, per lane) are what costs.
   */
  wRowsTile: { TO: number; maxAcc: number };
  /**
   * The stride-1 whole-row weight gradient (`wRows`) with every kernel row per invocation: TO
   * output x TR input channels (TR a multiple of 4 dividing C; groups 1) x KH x KW, stored as
   * vec4s (convWeightGradRowsAllTapsWgsl). On lavapipe, ResNet-18's 512->512 3x3 @2 (64-px
   * input) 62 -> 83 GFLOP per 2 CPU-s with 4 x 4 (8 x 4 and 4 x 8: 48 and 27, spilling); the
   * step 239 / 245 -> 228 / 236 ms alternating; with the row loop unrolled (at most 4 output
   * rows) 85-90, and its pipeline ~0.4 s of LLVM cold against ~0.2 s. Stride 2 keeps one kernel
   * row per invocation: on the 4-px maps all taps ran 44 -> 28 (4 source rows x 4 channels of
   * values live beside the 144 accumulators). null = off.
   */
  wRowsAllTaps: { TO: number; TR: number } | null;
  /**
   * Direct weight gradient of convs of stride at most maxStride (equal in both axes) where `shuffle`
   * is on (groups 1, maps at least minOW columns wide, rows not split): one kernel row per
   * workgroup with all its columns, a sliding window of source columns, TO output x TR input
   * channels x KW columns of accumulators
   * (convWeightGradRowTapsWgsl). One x load per channel and pixel then serves every column tap,
   * where the per-tap kernel loads it once per tap: on VGG's 224-px maps that kernel streamed
   * 36 planes per lane at ~33 GFLOP/s. On lavapipe, median call, against the per-tap kernel:
   * VGG 64->64 @224 34 -> 57, 512->512 @14 54 -> 71, ResNet-18's 3x3 layers at 16 / 8 / 4 px
   * 60 / 63 / 57 -> 81 / 78 / 66 (16 x 4: 55 / 70 / 78 / 76 / 65; 16 x 8 and 8 x 8 slower). Steps,
   * alternating: ResNet-18 64 px b16 289 -> 275 ms, VGG16 224 px b8 12.2 -> 10.3 s; ~20 ms more
   * LLVM for its one pipeline. Stride 2 (the window advances two columns: one kept, two loaded for
   * three taps): ResNet-18's 3x3/2 at 16 / 8 px 57 / 51 -> 69 / 59. null = the per-tap kernel.
   * cols: output columns per loop iteration at stride 1 on rows at least colsMinOW wide (the
   * largest power of two up to cols dividing the row; see WeightGradSpec.cols). 2 against 1,
   * median call: ResNet-18 64->64 @16 76-79 -> 84-89, 128->128 @8 73-74 -> 78-79, at 224 px @56 /
   * @28 / @14 75 / 77 / 72 -> 80 / 83-84 / 78, VGG 64->64 @224 66-68 -> 71-74. Slower at 4 px
   * (64 -> 59) and at stride 2 (8 px: 53 -> 44); 4 columns slower everywhere (spills).
   */
  wRowTaps: { TO: number; TR: number; minOW: number; maxStride: number; cols: number; colsMinOW: number } | null;
  /**
   * The row-tap weight gradient reads padded copies of x and dy whose channel planes start a
   * multiple of 4 KB apart (224-px maps; `padPlanes` in padded-planes.ts), so that its lanes' 48
   * streams do not share one L1 set. VGG's 64->64 @224: 58 -> 72 GFLOP per 2 CPU-s, the copies
   * included. false = read them as they are.
   */
  padPlanes: boolean;
  /** Default tiles on rows they do not divide take the largest divisor down to half their width (see conv.ts `evenRowTile`). */
  evenRows: boolean;
  /**
   * The same for stride-2 kernels: maps at most this many output columns wide (sources at most
   * twice that). With vec4 source rows (width a multiple of 4) ResNet-18's 256→512 3x3/2 on 4-px
   * inputs went from ~28 to ~35 GFLOP per 2 CPU-s on lavapipe; 4 (the 8-px inputs) was slower
   * (~24 against ~33). 0 = off.
   */
  wRowsStride2: number;
  /**
   * Where `shuffle` is on: 1x1 convs of stride 1 or 2 without padding run on the pointwise kernels
   * (pointwise.wgsl.ts: GEMMs over quads of output pixels, vec4 loads and stores). TO x TQ: output
   * channels x quads of 4 pixels per invocation in the forward; bwdTO x TQ: input channels x quads
   * in the input gradient; wTO x wTC: the weight gradient's output x input channels; U: reduction
   * steps per loop iteration in the forward and input gradient (where the reduced size, C or O, is
   * a multiple; else 1). On lavapipe (ResNet-18's 1x1/2 layers, median call) 32 channels ran ~20 %
   * faster than 16 in the forward and the input gradient, and 64 another 5-15 % in the input
   * gradient; in the forward 64 (256 accumulators) ran 0.86-0.98x of 32 and took twice the LLVM time
   * cold (~0.65 s against ~0.34 s; session 15, variants alternating in turned order); the weight gradient
   * with 32 output channels ~30 % faster than 16; U 2 +7-12 % in the forward and input gradient
   * (one masked accumulator update per two steps), U 4 slower (a loop body past the instruction
   * cache); wVec4: the input gradient loads its weights as vec4s over four input channels (where
   * C and bwdTO are multiples of 4; a quarter of the load sites), +10-15 %. The stores in a loop keep the compile time at 0.3-0.5 s (forward, input gradient) and
   * 0.9-1.6 s (weight gradient) cold.
   * null = the direct kernels.
   */
  pointwise: { TO: number; TQ: number; bwdTO: number; wTO: number; wTC: number; U: number; wVec4: boolean } | null;
  /**
   * Weight gradient split-K: the N*OH rows are cut into contiguous chunks, each reduced by its own
   * invocations into a partial [S, O, C/groups, KH, KW], then summed in a second pass
   * (deterministic). `wTarget` = invocations wanted in flight (S is chosen so that
   * tiles x taps x S reaches it); null = per adapter: 0 (no chunking) on a CPU adapter, where one
   * invocation per tile already fills the cores, 65536 on a GPU.
   */
  wTarget: number | null;
  /** Forces S (> 0; still capped by the rows and by `wPartialBytes`); 0 = from `wTarget`. */
  wSplit: number;
  /** Cap on the partial buffer (bytes). */
  wPartialBytes: number;
  /** Minimum output pixels one chunk reduces (keeps the partial traffic small against the work). */
  wMinChunk: number;
  /**
   * Which kernel family: 'direct' = the register-tiled direct kernels above (fast on lavapipe);
   * 'implicitGemm' = implicit GEMM with workgroup-shared tiles (conv-gemm.wgsl.ts); 'auto' =
   * 'direct' on a CPU adapter, 'implicitGemm' otherwise. Either adapter can run either family. Grouped convs with fewer than `gemmMinGroupChannels` channels per group (in or
   * out; depthwise) always use the direct kernels.
   */
  path: ConvKernelFamily | 'auto';
  /** Implicit-GEMM path, forward and input gradient: M = pixels (tm x wgM), N = output channels (tn x wgN), K tile tk. */
  gemm: ConvGemmConfig;
  /**
   * Implicit-GEMM path, forward and input gradient: smaller tiles for problems whose grid under `gemm`
   * has fewer than `gemmSmallBelow` workgroups (small spatial sizes: ResNet layer3/4), so the
   * device fills.
   */
  gemmSmall: ConvGemmConfig;
  gemmSmallBelow: number;
  /**
   * Implicit-GEMM path, forward and input gradient: split-K (slices of the channels x taps
   * reduction, summed in order afterwards) when the output tiles under `gemm` are fewer than this
   * many workgroups (small maps against many channels: ResNet's 512 @ 7 has 200 tiles at batch 32).
   * 0 = never (then `gemmSmall` serves small grids).
   */
  gemmSplitTarget: number;
  /**
   * Implicit-GEMM path, weight gradient: M = output channels (tm x wgM), N = C/groups·KH·KW (tn x wgN),
   * K = pixels (tile tk). On every GPU-path kernel tk is halved where the tiles would exceed the
   * device's workgroup memory (the default tk 32 needs 16.6 KB: 16 on a 16 KB device).
   */
  wGemm: ConvGemmConfig;
  /** Implicit-GEMM path, weight gradient split-K: workgroups wanted in flight (S = their count / output tiles). */
  gemmWgTarget: number;
  /** Implicit-GEMM path, weight gradient: minimum pixels per split (rounded up to a multiple of wGemm.tk). */
  gemmMinK: number;
  gemmMinGroupChannels: number;
  /**
   * Direct kernels: write the sizes into the WGSL as constants instead of passing them as
   * uniforms (one pipeline per layer shape and pass, as before they shared pipelines). Only to
   * time the two against each other (`benchmarks/src/conv-ab.ts`); off by default.
   */
  bakeSizes: boolean;
  /**
   * Direct gather kernels (forward and input gradient): up to `taps` column taps per accumulator
   * assignment (`GatherConvSpec.chain`) on register tiles of at most `maxAcc` accumulators; null =
   * one FMA per assignment.
   */
  chainTaps: { taps: number; maxAcc: number } | null;
  /** Whole-row weight gradients: FMAs per accumulator assignment (`WeightGradSpec.chain`; 1 = one). */
  wChain: number;
  /** Direct gather kernels: vec4 stores where the destination allows (`GatherConvSpec.vec4Store`). */
  vec4Store: boolean;
}

/** Register tiles and splits; a per-adapter choice (see `setConvTiles`). */
const defaultTiles: ConvTiles = {
  fwdTO: 8,
  fwdTP: 8,
  bwdTO: 8,
  bwdTP: 8,
  wTO: 8,
  wTR: 8,
  wg: 64,
  rows: true,
  shuffle: null,
  vec4: true,
  shuffleTiles: { fwdTO: 16, fwdTP: 8, bwdTO: 16, bwdTP: 8, wTO: 32, wTR: 4 },
  wideMaps: { TO: 16, TP: 16, minW: 60 },
  wTaps: 4,
  wTapsTO: 32,
  wRowsTile: { TO: 16, maxAcc: 192 },
  wRows: 2,
  wRowsAllTaps: { TO: 4, TR: 4 },
  wRowTaps: { TO: 32, TR: 2, minOW: 3, maxStride: 2, cols: 2, colsMinOW: 8 },
  padPlanes: true,
  evenRows: true,
  wRowsStride2: 2,
  bwdFewTaps: [
    { TO: 32, TP: 4, maxB: 2, maxTaps: 4 },
    { TO: 16, TP: 8, maxB: 8, maxTaps: 4 },
  ],
  pointwise: { TO: 32, TQ: 1, bwdTO: 64, wTO: 32, wTC: 4, U: 2, wVec4: true },
  wTarget: null,
  wSplit: 0,
  wPartialBytes: 64 * 2 ** 20,
  wMinChunk: 64,
  path: 'auto',
  // NVIDIA-class defaults: 64x64 output tiles, 4x4 per invocation, 256 invocations.
  gemm: { tm: 4, tn: 4, wgM: 16, wgN: 16, tk: 16 },
  gemmSmall: { tm: 2, tn: 2, wgM: 16, wgN: 16, tk: 16 },
  gemmSmallBelow: 256,
  gemmSplitTarget: 1024,
  wGemm: { tm: 4, tn: 4, wgM: 16, wgN: 16, tk: 32 },
  gemmWgTarget: 1024,
  gemmMinK: 256,
  gemmMinGroupChannels: 16,
  bakeSizes: false,
  chainTaps: { taps: 8, maxAcc: 128 },
  wChain: 4,
  vec4Store: true,
};
let tiles: ConvTiles = { ...defaultTiles };

export function setConvTiles(t: Partial<ConvTiles>): void {
  if (t.path !== undefined && !['auto', ...convKernelFamilies].includes(t.path)) {
    throw new Error(`setConvTiles: path must be 'auto', ${convKernelFamilies.map((f) => `'${f}'`).join(' or ')}, got ${JSON.stringify(t.path)}`);
  }
  if (t.gemm) checkGemmConfig('setConvTiles', t.gemm);
  if (t.gemmSmall) checkGemmConfig('setConvTiles', t.gemmSmall);
  if (t.wGemm) checkGemmConfig('setConvTiles', t.wGemm);
  tiles = { ...tiles, ...t };
}

/** Whether geometry `g` runs on the implicit-GEMM kernels under the current settings. */
export function convUsesGemm(g: ConvGeometry, cpu = gpu().isCpuAdapter): boolean {
  const path = tiles.path === 'auto' ? (cpu ? 'direct' : 'implicitGemm') : tiles.path;
  if (path !== 'implicitGemm') return false;
  return g.groups === 1 || Math.min(g.C / g.groups, g.O / g.groups) >= tiles.gemmMinGroupChannels;
}

/**
 * Split-K plan of the implicit-GEMM weight gradient: S contiguous chunks of CK pixels (CK a multiple
 * of the K tile), enough workgroups to fill the device, partials within the byte cap.
 */
export function gemmWeightGradSplit(g: ConvGeometry, t: ConvTiles = tiles, pageBytes = Infinity): { S: number; CK: number } {
  const c = t.wGemm;
  const Rg = g.C / g.groups;
  const Og = g.O / g.groups;
  const P = g.N * g.OH * g.OW;
  const outTiles = Math.ceil((Rg * g.KH * g.KW) / (c.tn * c.wgN)) * Math.ceil(Og / (c.tm * c.wgM)) * g.groups;
  const perSplit = g.O * Rg * g.KH * g.KW * 4;
  let S = t.wSplit > 0 ? t.wSplit : Math.ceil(t.gemmWgTarget / outTiles);
  if (t.wSplit <= 0) S = Math.min(S, Math.max(1, Math.floor(P / t.gemmMinK)));
  S = Math.max(1, Math.min(S, Math.ceil(P / c.tk), Math.floor(Math.min(t.wPartialBytes, pageBytes) / perSplit), Math.floor(65535 / g.groups)));
  const CK = Math.ceil(P / S / c.tk) * c.tk;
  return { S: Math.ceil(P / CK), CK };
}

/** Whether the direct kernels share values through subgroupShuffle (see `ConvTiles.shuffle`). */
export function convShuffles(t: ConvTiles = tiles): boolean {
  const g = gpu();
  if (t.shuffle === false) return false;
  if (!canShuffle(g, 8)) {
    if (t.shuffle) throw new Error('setConvTiles: shuffle needs the subgroups feature with subgroups of at least 8 lanes; this adapter has none');
    return false;
  }
  return t.shuffle ?? g.isCpuAdapter;
}

/** The live settings with the register tiles of the kernels in use (`shuffleTiles` where they shuffle). */
export function activeConvTiles(): Readonly<ConvTiles> {
  return convShuffles(tiles) ? { ...tiles, ...tiles.shuffleTiles } : tiles;
}

/** Back to the defaults (tests). */
export function resetConvTiles(): void {
  tiles = { ...defaultTiles };
}

export function getConvTiles(): ConvTiles {
  return { ...tiles };
}

/** The live settings, without a copy (the conv ops read them on every call). */
export function convTiles(): Readonly<ConvTiles> {
  return tiles;
}

const gpuWeightTarget = 65536;

/**
 * Split-K plan of the weight gradient for geometry `g`: S partials of CR contiguous rows each
 * ('chunked'), or the strided lane split of few-channel convs on a CPU adapter, or none (S = 1).
 */
export function weightGradSplit(
  g: ConvGeometry,
  cpu: boolean,
  t: ConvTiles = tiles,
  pageBytes = Infinity,
): { S: number; CR: number; mode: 'strided' | 'chunked'; TO: number; TR: number } {
  const Rg = g.C / g.groups;
  const Og = g.O / g.groups;
  const TO = channelTile(t.wTO, Og, g.groups);
  const TR = Math.max(1, Math.min(t.wTR, Rg));
  const rTiles = Math.ceil(Rg / TR);
  const rows = g.N * g.OH;
  const KK = g.KH * g.KW;
  const target = t.wTarget ?? (cpu ? 0 : gpuWeightTarget);
  const base = rTiles * Math.ceil(g.O / TO) * KK;
  let S = t.wSplit > 0 ? t.wSplit : Math.ceil(target / base);
  if (t.wSplit <= 0) S = Math.min(S, Math.max(1, Math.floor((rows * g.OW) / t.wMinChunk)));
  const perSplit = g.O * Rg * KK * 4;
  // The partials stay within the byte cap and within one storage binding (so the weight-gradient
  // kernel needs no more bindings than the unsplit one).
  S = Math.max(1, Math.min(S, rows, Math.floor(Math.min(t.wPartialBytes, pageBytes) / perSplit), Math.floor((65535 * 64) / rTiles)));
  if (S > 1) {
    const CR = Math.ceil(rows / S);
    return { S: Math.ceil(rows / CR), CR, mode: 'chunked', TO, TR };
  }
  // Few input channels (a network's first conv) leave most SIMD lanes idle: give the spare lanes
  // strided subsets of the rows and sum their partial results afterwards.
  // Not capped by the row count (splits past it add zeros), so the kernel does not change with the batch size.
  const SL = rTiles >= 8 ? 1 : Math.max(1, Math.min(Math.floor(16 / rTiles), Math.floor(Math.min(t.wPartialBytes, pageBytes) / perSplit)));
  return { S: SL, CR: rows, mode: 'strided', TO, TR };
}

/** Largest of want, want/2, ... that divides the per-group channel count (tiles may not cross groups). */
export function channelTile(want: number, perGroup: number, groups: number): number {
  if (groups === 1) return Math.max(1, Math.min(want, perGroup));
  let t = want;
  while (t > 1 && perGroup % t !== 0) t >>= 1;
  return t;
}
