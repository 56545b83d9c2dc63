import { fmt, type Shape } from '../../shape.js';
import { Tensor } from '../../tensor.js';
import { grid1d, runKernel } from '../../kernel/run.js';
import { gpu } from '../../device/device.js';
import { sum } from '../reduce/reduce.js';
import { convWeightGradTapsWgsl, convWeightGradWgsl, gatherConvWgsl, sumPartialsWgsl, type GatherConvSpec, type TapAxis } from './conv.wgsl.js';
import {
  checkGemmConfig, fitSharedMemory, gemmConvGrid, gemmConvSharedBytes, gemmConvWgsl, gemmWeightGradSharedBytes, gemmWeightGradGrid, gemmWeightGradWgsl, type ConvGemmConfig,
} from './conv-gemm.wgsl.js';

export type { ConvGemmConfig } from './conv-gemm.wgsl.js';

export interface Conv2dOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
  groups?: number;
}

/** Resolved geometry of one convolution. */
export interface ConvGeometry {
  N: number; C: number; H: number; W: number;
  O: number; KH: number; KW: number; OH: number; OW: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  groups: number;
}

function pair(op: string, name: string, v: number | readonly [number, number] | undefined, dflt: number, min: number): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (p.length !== 2 || !p.every((x) => Number.isInteger(x) && x >= min)) {
    throw new Error(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

/**
 * Validates shapes and options and returns the geometry. `xShape` is NCHW, `wShape` OIHW with
 * I = C / groups.
 */
export function convGeometry(op: string, xShape: Shape, wShape: Shape, opts: Conv2dOptions = {}): ConvGeometry {
  const desc = `input ${fmt(xShape)}, weight ${fmt(wShape)}`;
  if (xShape.length !== 4) throw new Error(`${op}: input must be 4-D NCHW, got ${fmt(xShape)} (${desc})`);
  if (wShape.length !== 4) throw new Error(`${op}: weight must be 4-D OIHW, got ${fmt(wShape)} (${desc})`);
  const [sh, sw] = pair(op, 'stride', opts.stride, 1, 1);
  const [ph, pw] = pair(op, 'padding', opts.padding, 0, 0);
  const [dh, dw] = pair(op, 'dilation', opts.dilation, 1, 1);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${op}: groups must be a positive integer, got ${groups} (${desc})`);
  const [N, C, H, W] = xShape;
  const [O, I, KH, KW] = wShape;
  if (C % groups !== 0) throw new Error(`${op}: groups=${groups} does not divide the ${C} input channels (${desc})`);
  if (O % groups !== 0) throw new Error(`${op}: groups=${groups} does not divide the ${O} output channels (${desc})`);
  if (I * groups !== C) {
    throw new Error(`${op}: channel mismatch: input has ${C} channels, weight expects ${I} x groups=${groups} = ${I * groups} (${desc})`);
  }
  if (KH < 1 || KW < 1) throw new Error(`${op}: empty kernel (${desc})`);
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  if (OH < 1 || OW < 1) {
    throw new Error(`${op}: output would be empty (${OH}x${OW}): kernel ${KH}x${KW} dilation ${dh},${dw} larger than the padded input (${desc}, padding ${ph},${pw})`);
  }
  return { N, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, groups };
}

export interface ConvTiles {
  fwdTO: number; fwdTP: number; bwdTO: number; bwdTP: number; wTO: number; wTR: number; wg: number;
  /**
   * Direct kernels, sub-grids narrower than the pixel tile (B < TP: 4- and 2-pixel maps): tiles
   * of RT = floor(TP / B) whole rows, consecutive over N x rows (so they span images), instead of
   * one row's TP pixels with most of them idle. false = always one-row tiles.
   */
  rows: boolean;
  /**
   * Direct weight gradient (CPU adapter, groups 1): convs with at most this many input
   * channels and >= 16 taps use lanes over taps (convWeightGradTapsWgsl) instead of lanes over channel tiles and
   * strided row subsets (not when `wSplit` forces a split). 0 = off.
   */
  wTaps: number;
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
   * Which kernels: 'cpu' = the register-tiled direct kernels above (lavapipe); 'gpu' = implicit
   * GEMM with workgroup-shared tiles (conv-gemm.wgsl.ts); 'auto' = 'cpu' on a CPU adapter, 'gpu'
   * otherwise. Grouped convs with fewer than `gemmMinGroupChannels` channels per group (in or
   * out; depthwise) always use the direct kernels.
   */
  path: 'auto' | 'cpu' | 'gpu';
  /** GPU path, forward and input gradient: M = pixels (tm x wgM), N = output channels (tn x wgN), K tile tk. */
  gemm: ConvGemmConfig;
  /**
   * GPU path, forward and input gradient: smaller tiles for problems whose grid under `gemm`
   * has fewer than `gemmSmallBelow` workgroups (small spatial sizes: ResNet layer3/4), so the
   * device fills.
   */
  gemmSmall: ConvGemmConfig;
  gemmSmallBelow: number;
  /**
   * GPU path, weight gradient: M = output channels (tm x wgM), N = C/groups·KH·KW (tn x wgN),
   * K = pixels (tile tk). On every GPU-path kernel tk is halved where the tiles would exceed the
   * device's workgroup memory (the default tk 32 needs 16.6 KB: 16 on a 16 KB device).
   */
  wGemm: ConvGemmConfig;
  /** GPU path, weight gradient split-K: workgroups wanted in flight (S = their count / output tiles). */
  gemmWgTarget: number;
  /** GPU path, weight gradient: minimum pixels per split (rounded up to a multiple of wGemm.tk). */
  gemmMinK: number;
  gemmMinGroupChannels: number;
}

/** Register tiles and splits; a per-adapter choice (see `setConvTiles`). */
const defaultTiles: ConvTiles = {
  fwdTO: 8, fwdTP: 8, bwdTO: 8, bwdTP: 8, wTO: 8, wTR: 8, wg: 64, rows: true, wTaps: 4,
  wTarget: null, wSplit: 0, wPartialBytes: 64 * 2 ** 20, wMinChunk: 64,
  path: 'auto',
  // NVIDIA-class defaults: 64x64 output tiles, 4x4 per invocation, 256 invocations.
  gemm: { tm: 4, tn: 4, wgM: 16, wgN: 16, tk: 16 },
  gemmSmall: { tm: 2, tn: 2, wgM: 16, wgN: 16, tk: 16 },
  gemmSmallBelow: 256,
  wGemm: { tm: 4, tn: 4, wgM: 16, wgN: 16, tk: 32 },
  gemmWgTarget: 1024, gemmMinK: 256, gemmMinGroupChannels: 16,
};
let tiles: ConvTiles = { ...defaultTiles };

export function setConvTiles(t: Partial<ConvTiles>): void {
  if (t.path !== undefined && !['auto', 'cpu', 'gpu'].includes(t.path)) throw new Error(`setConvTiles: path must be 'auto', 'cpu' or 'gpu', got ${JSON.stringify(t.path)}`);
  if (t.gemm) checkGemmConfig('setConvTiles', t.gemm);
  if (t.gemmSmall) checkGemmConfig('setConvTiles', t.gemmSmall);
  if (t.wGemm) checkGemmConfig('setConvTiles', t.wGemm);
  tiles = { ...tiles, ...t };
}

/** Whether geometry `g` runs on the implicit-GEMM (GPU) kernels under the current settings. */
export function convUsesGemm(g: ConvGeometry, cpu = gpu().isCpuAdapter): boolean {
  const path = tiles.path === 'auto' ? (cpu ? 'cpu' : 'gpu') : tiles.path;
  if (path !== 'gpu') return false;
  return g.groups === 1 || Math.min(g.C / g.groups, g.O / g.groups) >= tiles.gemmMinGroupChannels;
}

/**
 * Split-K plan of the GPU weight-gradient GEMM: S contiguous chunks of CK pixels (CK a multiple
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

/** Back to the defaults (tests). */
export function resetConvTiles(): void {
  tiles = { ...defaultTiles };
}

export function getConvTiles(): ConvTiles {
  return { ...tiles };
}

const gpuWeightTarget = 65536;

/**
 * Split-K plan of the weight gradient for geometry `g`: S partials of CR contiguous rows each
 * ('chunked'), or the strided lane split of few-channel convs on a CPU adapter, or none (S = 1).
 */
export function weightGradSplit(g: ConvGeometry, cpu: boolean, t: ConvTiles = tiles, pageBytes = Infinity): { S: number; CR: number; mode: 'strided' | 'chunked'; TO: number; TR: number } {
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
  S = Math.max(1, Math.min(S, rows, Math.floor(Math.min(t.wPartialBytes, pageBytes) / perSplit), Math.floor(65535 * 64 / rTiles)));
  if (S > 1) {
    const CR = Math.ceil(rows / S);
    return { S: Math.ceil(rows / CR), CR, mode: 'chunked', TO, TR };
  }
  // Few input channels (a network's first conv) leave most SIMD lanes idle: give the spare lanes
  // strided subsets of the rows and sum their partial results afterwards.
  const SL = rTiles >= 8 ? 1 : Math.max(1, Math.min(Math.floor(16 / rTiles), rows, Math.floor(Math.min(t.wPartialBytes, pageBytes) / perSplit)));
  return { S: SL, CR: rows, mode: 'strided', TO, TR };
}

/** Largest of want, want/2, ... that divides the per-group channel count (tiles may not cross groups). */
function channelTile(want: number, perGroup: number, groups: number): number {
  if (groups === 1) return Math.max(1, Math.min(want, perGroup));
  let t = want;
  while (t > 1 && perGroup % t !== 0) t >>= 1;
  return t;
}

function checkTensor(op: string, name: string, t: Tensor): void {
  t.storage(op);
  if (t.dtype !== 'float32') throw new Error(`${op}: ${name} must be float32, got ${t.dtype} ${fmt(t.shape)}`);
}

function dispatchGather(op: string, spec: Omit<GatherConvSpec, 'TO' | 'TP' | 'WG'>, TO0: number, TP0: number, src: Tensor, w: Tensor, out: Tensor, bias: Tensor | null, gemm: boolean): void {
  const TO = channelTile(TO0, spec.Og, spec.groups);
  // Depthwise-like shapes have few output channels per tile: spend the registers on pixels.
  const TP = Math.max(1, Math.min(TP0 * Math.max(1, Math.floor(TO0 / TO / 2)), 16));
  const full: GatherConvSpec = { ...spec, TO, TP, WG: tiles.wg };
  const P = spec.N * spec.A * spec.B;
  if (P === 0) return;
  if (gemm) {
    const maxWg = gpu().limits.maxComputeWorkgroupsPerDimension;
    let c = tiles.gemm;
    if (gemmConvGrid(spec, c, maxWg).reduce((a, b) => a * b, 1) < tiles.gemmSmallBelow) c = tiles.gemmSmall;
    c = fitSharedMemory(op, c, gemmConvSharedBytes, gpu().limits.maxComputeWorkgroupStorageSize);
    runKernel({
      name: op,
      body: gemmConvWgsl(spec, c),
      inputs: bias ? { src, w, bias } : { src, w },
      outputs: { out },
      workgroups: gemmConvGrid(spec, c, maxWg),
    });
    return;
  }
  if (tiles.rows && spec.B < TP) {
    // Narrow sub-grid: tiles of whole rows (RT x B pixels, possibly spanning images).
    const RT = Math.max(1, Math.floor(TP / spec.B));
    const tilesP = Math.ceil((spec.N * spec.A) / RT);
    const WG = Math.min(tiles.wg, Math.ceil(tilesP / 8) * 8);
    runKernel({
      name: op,
      body: gatherConvWgsl({ ...full, RT, WG }),
      inputs: bias ? { src, w, bias } : { src, w },
      outputs: { out },
      workgroups: [Math.ceil(tilesP / WG), Math.ceil(spec.O / TO), 1],
    });
    return;
  }
  runKernel({
    name: op,
    body: gatherConvWgsl(full),
    inputs: bias ? { src, w, bias } : { src, w },
    outputs: { out },
    workgroups: [Math.ceil((spec.N * spec.A * Math.ceil(spec.B / TP)) / tiles.wg), Math.ceil(spec.O / TO), 1],
  });
}

/**
 * 2-D convolution (cross-correlation, as PyTorch): x [N, C, H, W], w [O, C/groups, KH, KW],
 * optional bias [O] → [N, O, OH, OW].
 */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  checkTensor(op, 'input', x);
  checkTensor(op, 'weight', w);
  const g = convGeometry(op, x.shape, w.shape, opts);
  if (bias) {
    checkTensor(op, 'bias', bias);
    if (bias.rank !== 1 || bias.shape[0] !== g.O) throw new Error(`conv2d: bias must be [${g.O}], got ${fmt(bias.shape)} (input ${fmt(x.shape)}, weight ${fmt(w.shape)})`);
  }
  const out = Tensor.empty([g.N, g.O, g.OH, g.OW], 'float32', op);
  const R = g.C / g.groups;
  const Og = g.O / g.groups;
  const axis = (k: number, s: number, p: number, d: number): TapAxis => ({ count: k, k0: 0, kStep: 1, off0: -p, offStep: d, scale: s });
  dispatchGather(op, {
    N: g.N, R, O: g.O, Og, groups: g.groups, IH: g.H, IW: g.W, A: g.OH, B: g.OW,
    OH: g.OH, OW: g.OW, rh: 0, rw: 0, th: 1, tw: 1,
    tapsH: axis(g.KH, g.sh, g.ph, g.dh), tapsW: axis(g.KW, g.sw, g.pw, g.dw), KW: g.KW,
    wGroup: Og * R * g.KH * g.KW, wO: R * g.KH * g.KW, wR: g.KH * g.KW, bias: !!bias,
  }, tiles.fwdTO, tiles.fwdTP, x, w, out, bias, convUsesGemm(g));
  return out;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Taps of a strided conv that reach input coordinate r + s*a: kernel indices k with
 * (r + p - k*d) divisible by s; they form an arithmetic progression.
 */
function classTaps(r: number, s: number, p: number, d: number, K: number): TapAxis {
  const ks: number[] = [];
  for (let k = 0; k < K; k++) if ((((r + p - k * d) % s) + s) % s === 0) ks.push(k);
  if (ks.length === 0) return { count: 0, k0: 0, kStep: 1, off0: 0, offStep: 0, scale: 1 };
  const step = s / gcd(s, d);
  const off = (k: number) => (r + p - k * d) / s;
  return { count: ks.length, k0: ks[0], kStep: step, off0: off(ks[0]), offStep: -(d * step) / s, scale: 1 };
}

function checkGrad(op: string, dy: Tensor, g: ConvGeometry, other: string): void {
  const want = [g.N, g.O, g.OH, g.OW];
  if (dy.rank !== 4 || dy.shape.some((d, i) => d !== want[i])) {
    throw new Error(`${op}: gradient must be ${fmt(want)} for ${other}, got ${fmt(dy.shape)}`);
  }
}

/** Gradient of conv2d with respect to its input: dy [N, O, OH, OW], w → dx of `inputShape`. */
export function conv2dBackwardInput(dy: Tensor, w: Tensor, inputShape: Shape, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2dBackwardInput';
  checkTensor(op, 'dy', dy);
  checkTensor(op, 'weight', w);
  const g = convGeometry(op, inputShape, w.shape, opts);
  checkGrad(op, dy, g, `input ${fmt(inputShape)}, weight ${fmt(w.shape)}`);
  const dx = Tensor.empty([...inputShape], 'float32', op);
  const Cg = g.C / g.groups;
  const Og = g.O / g.groups;
  const KK = g.KH * g.KW;
  const gemm = convUsesGemm(g);
  for (let rh = 0; rh < Math.min(g.sh, g.H); rh++) {
    for (let rw = 0; rw < Math.min(g.sw, g.W); rw++) {
      dispatchGather(op, {
        N: g.N, R: Og, O: g.C, Og: Cg, groups: g.groups, IH: g.OH, IW: g.OW,
        A: Math.ceil((g.H - rh) / g.sh), B: Math.ceil((g.W - rw) / g.sw),
        OH: g.H, OW: g.W, rh, rw, th: g.sh, tw: g.sw,
        tapsH: classTaps(rh, g.sh, g.ph, g.dh, g.KH), tapsW: classTaps(rw, g.sw, g.pw, g.dw, g.KW), KW: g.KW,
        wGroup: Og * Cg * KK, wO: KK, wR: Cg * KK, bias: false,
      }, tiles.bwdTO, tiles.bwdTP, dy, w, dx, null, gemm);
    }
  }
  return dx;
}

/** Gradient of conv2d with respect to its weight: dy [N, O, OH, OW], x → dw of `weightShape`. */
export function conv2dBackwardWeight(dy: Tensor, x: Tensor, weightShape: Shape, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2dBackwardWeight';
  checkTensor(op, 'dy', dy);
  checkTensor(op, 'input', x);
  const g = convGeometry(op, x.shape, weightShape, opts);
  checkGrad(op, dy, g, `input ${fmt(x.shape)}, weight ${fmt(weightShape)}`);
  const Rg = g.C / g.groups;
  const Og = g.O / g.groups;
  if (convUsesGemm(g)) return gemmWeightGrad(op, g, dy, x, weightShape);
  if (tiles.wTaps > 0 && tiles.wSplit <= 0 && g.groups === 1 && g.C <= tiles.wTaps && g.KH * g.KW >= 16 && gpu().isCpuAdapter) return tapsWeightGrad(op, g, dy, x, weightShape);
  const { S, CR, mode, TO, TR } = weightGradSplit(g, gpu().isCpuAdapter, tiles, gpu().pageElements * 4);
  const rTiles = Math.ceil(Rg / TR);
  const lanes = rTiles * S;
  const wg = Math.min(tiles.wg, Math.ceil(lanes / 8) * 8);
  const target = S === 1 ? Tensor.empty([...weightShape], 'float32', op) : Tensor.empty([S, ...weightShape], 'float32', op);
  runKernel({
    name: op,
    body: convWeightGradWgsl({ ...g, Rg, Og, TO, TR, WG: wg, S, splitMode: mode, CR }),
    inputs: { dy, x },
    outputs: { out: target },
    workgroups: [Math.ceil(lanes / wg), Math.ceil(g.O / TO), g.KH * g.KW],
  });
  if (S === 1) return target;
  return sumPartials(op, target, weightShape, S);
}

/** Weight gradient with lanes over taps (few input channels on a CPU adapter): see convWeightGradTapsWgsl. */
function tapsWeightGrad(op: string, g: ConvGeometry, dy: Tensor, x: Tensor, weightShape: Shape): Tensor {
  const TO = Math.max(1, Math.min(2 * tiles.wTO, Math.floor(128 / g.C), g.O));
  const oTiles = Math.ceil(g.O / TO);
  const rows = g.N * g.OH;
  const perSplit = g.O * g.C * g.KH * g.KW * 4;
  // Enough workgroups for the cores (and short serial loops), each split >= 64 output pixels.
  let S = Math.max(1, Math.min(Math.ceil(32 / oTiles), rows, Math.floor((rows * g.OW) / 64), Math.floor(Math.min(tiles.wPartialBytes, gpu().pageElements * 4) / perSplit)));
  const CR = Math.ceil(rows / S);
  S = Math.ceil(rows / CR);
  const WG = Math.ceil((g.KH * g.KW) / 8) * 8;
  const target = S === 1 ? Tensor.empty([...weightShape], 'float32', op) : Tensor.empty([S, ...weightShape], 'float32', op);
  runKernel({
    name: op,
    body: convWeightGradTapsWgsl({ ...g, TO, CR, WG }),
    inputs: { dy, x },
    outputs: { out: target },
    workgroups: [S, oTiles, 1],
  });
  return S === 1 ? target : sumPartials(op, target, weightShape, S);
}

function sumPartials(op: string, target: Tensor, weightShape: Shape, S: number): Tensor {
  const dw = Tensor.empty([...weightShape], 'float32', op);
  const M = dw.size;
  runKernel({
    name: `${op}.sumPartials`,
    body: sumPartialsWgsl(S, M, 64),
    inputs: { part: target },
    outputs: { out: dw },
    workgroups: grid1d(M, 64),
  });
  target.dispose();
  return dw;
}

function gemmWeightGrad(op: string, g: ConvGeometry, dy: Tensor, x: Tensor, weightShape: Shape): Tensor {
  const c = fitSharedMemory(op, tiles.wGemm, gemmWeightGradSharedBytes, gpu().limits.maxComputeWorkgroupStorageSize);
  const t = { ...tiles, wGemm: c };
  const { S, CK } = gemmWeightGradSplit(g, t, gpu().pageElements * 4);
  const spec = { ...g, Rg: g.C / g.groups, Og: g.O / g.groups, S, CK };
  const target = S === 1 ? Tensor.empty([...weightShape], 'float32', op) : Tensor.empty([S, ...weightShape], 'float32', op);
  runKernel({
    name: op,
    body: gemmWeightGradWgsl(spec, c),
    inputs: { dy, x },
    outputs: { out: target },
    workgroups: gemmWeightGradGrid(spec, c),
  });
  return S === 1 ? target : sumPartials(op, target, weightShape, S);
}

/** Gradient of conv2d's bias: the sum of dy [N, O, OH, OW] over N, OH, OW → [O]. */
export function conv2dBackwardBias(dy: Tensor): Tensor {
  checkTensor('conv2dBackwardBias', 'dy', dy);
  if (dy.rank !== 4) throw new Error(`conv2dBackwardBias: gradient must be 4-D [N, O, OH, OW], got ${fmt(dy.shape)}`);
  return sum(dy, [0, 2, 3]);
}
