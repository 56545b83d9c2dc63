import { fmt, type Shape } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import type { DType } from '../../dtype.ts';
import { grid1d, runKernel } from '../../kernel/run.ts';
import { gpu } from '../../device/device.ts';
import { sum } from '../reduce/reduce.ts';
import {
  ascendingTaps,
  bakeUniforms,
  convWeightGradRowTapsWgsl,
  convWeightGradRowsAllTapsWgsl,
  convWeightGradRowsWgsl,
  convWeightGradTapsWgsl,
  convWeightGradWgsl,
  unrollsReduction,
  gatherConvWgsl,
  sumPartialsWgsl,
  type ConvKernelSource,
  type GatherConvSpec,
  type TapAxis,
} from './conv.wgsl.ts';
import {
  fitSharedMemory,
  gemmWeightGradSharedBytes,
  gemmWeightGradGrid,
  gemmWeightGradUniforms,
  gemmWeightGradWgsl,
  type GemmConvSpec,
} from './conv-gemm.wgsl.ts';
import {
  convShapeChoice,
  dispatchGemmConv,
  finishGemmConv,
  gemmConvTarget,
  planGemmConv,
  tuneConvShapes,
  type ConvTuneOptions,
  type ConvTuneResult,
  type GemmConvPlan,
} from './conv-gemm.ts';
import { classTaps, convGeometry, type Conv2dOptions, type ConvGeometry } from './geometry.ts';
import { zeros } from '../creation/creation.ts';
import { pointwiseForward, pointwiseInputGrad, pointwiseWeightGrad, usesPointwise } from './pointwise.ts';
import { activeConvTiles, channelTile, convShuffles, convTiles, convUsesGemm, gemmWeightGradSplit, weightGradSplit, type ConvTiles } from './tiles.ts';
import { memoWgsl } from '../../kernel/memo.ts';
import { padPlanes, planePad, planesAlias } from './padded-planes.ts';

/** Generated once per spec (see memoWgsl). */
const cachedGatherConvWgsl = memoWgsl(gatherConvWgsl);
const cachedConvWeightGradWgsl = memoWgsl(convWeightGradWgsl);
const cachedConvWeightGradRowTapsWgsl = memoWgsl(convWeightGradRowTapsWgsl);
const cachedConvWeightGradRowsAllTapsWgsl = memoWgsl(convWeightGradRowsAllTapsWgsl);
const cachedConvWeightGradRowsWgsl = memoWgsl(convWeightGradRowsWgsl);
const cachedConvWeightGradTapsWgsl = memoWgsl(convWeightGradTapsWgsl);
const cachedGemmWeightGradWgsl = memoWgsl(gemmWeightGradWgsl);
const cachedSumPartialsWgsl = memoWgsl(sumPartialsWgsl);

function checkTensor(op: string, name: string, t: Tensor): void {
  t.storage(op);
  if (t.dtype === 'int32') throw new Error(`${op}: ${name} must be float32 or float16, got ${t.dtype} ${fmt(t.shape)}`);
}

/** The kernel as dispatched: sizes as uniforms, or written in where `bakeSizes` is set (A/B timing). */
function sized(k: ConvKernelSource): ConvKernelSource {
  return convTiles().bakeSizes ? bakeUniforms(k) : k;
}

function dispatchGather(
  op: string,
  spec: Omit<GatherConvSpec, 'TO' | 'TP' | 'WG'>,
  TO0: number,
  TP0: number,
  src: Tensor,
  w: Tensor,
  out: Tensor,
  bias: Tensor | null,
  gemm: GemmConvPlan | null,
): void {
  const tiles = convTiles();
  const TO = channelTile(TO0, spec.Og, spec.groups);
  // Depthwise-like shapes have few output channels per tile: spend the registers on pixels.
  const TP = Math.max(1, Math.min(TP0 * Math.max(1, Math.floor(TO0 / TO / 2)), 16));
  // Shared weights: one 8-lane subgroup per workgroup.
  const shuffle = !gemm && convShuffles(tiles);
  // vec4 source loads (one-row tiles): rows and tiles that start on multiples of 4 columns.
  const vec4 = shuffle && tiles.vec4 && spec.IW % 4 === 0 && (TP * spec.tapsW.scale) % 4 === 0 && src.size % 4 === 0;
  // Column taps in ascending order: an input gradient's stride-1 taps then have the forward's
  // structure and share its pipeline (the kernel column is a uniform). A strided input
  // gradient's residue classes check their rows: one row tap or two then share a pipeline.
  const full: GatherConvSpec = {
    ...spec,
    tapsW: ascendingTaps(spec.tapsW),
    checkRows: spec.th > 1,
    ...(tiles.chainTaps && TO * TP <= tiles.chainTaps.maxAcc ? { chain: tiles.chainTaps.taps } : {}),
    TO,
    TP,
    WG: shuffle ? 8 : tiles.wg,
    shuffle,
    vec4,
    // vec4 stores where the tile's destination columns are consecutive and 4-aligned: stride-1
    // placement (tw = 1, so rw = 0 and B = OW) on rows a multiple of 4 wide (the generators also
    // need TP, or a narrow map's B, to be one). Only on the shuffling kernels, the CPU adapter's,
    // where they were measured (benchmarks/README.md, "Session 15").
    vec4Store: shuffle && tiles.vec4Store && spec.tw === 1 && spec.OW % 4 === 0,
  };
  const P = spec.N * spec.A * spec.B;
  if (P === 0) return;
  if (gemm) {
    dispatchGemmConv(op, spec, gemm, src, w, bias, out);
    return;
  }
  if (tiles.rows && spec.B <= TP) {
    // Narrow sub-grid: tiles of whole rows (RT x B pixels, possibly spanning images; RT = 1 on
    // maps as wide as the tile).
    const RT = Math.max(1, Math.floor(TP / spec.B));
    const tilesP = Math.ceil((spec.N * spec.A) / RT);
    // Sized by one image's tiles, not the batch's, so that the WGSL (and the pipeline) does not
    // change with the batch size; a small workgroup still leaves no lane idle on narrow maps.
    const WG = shuffle ? 8 : Math.min(tiles.wg, Math.ceil(Math.ceil(spec.A / RT) / 8) * 8);
    const k = sized(cachedGatherConvWgsl({ ...full, RT, WG, vec4: shuffle && tiles.vec4 && spec.IW % 4 === 0 && src.size % 4 === 0 }));
    runKernel({
      name: op,
      body: k.wgsl,
      inputs: bias ? { src, w, bias } : { src, w },
      outputs: { out },
      uniforms: k.uniforms,
      workgroups: [Math.ceil(tilesP / WG), Math.ceil(spec.O / TO), 1],
    });
    return;
  }
  const k = sized(cachedGatherConvWgsl(full));
  runKernel({
    name: op,
    body: k.wgsl,
    inputs: bias ? { src, w, bias } : { src, w },
    outputs: { out },
    uniforms: k.uniforms,
    workgroups: [Math.ceil((spec.N * spec.A * Math.ceil(spec.B / TP)) / full.WG), Math.ceil(spec.O / TO), 1],
  });
}

/** The register tile of `ConvTiles.wideMaps` where it applies to a stride-1 direct gather problem, else null. */
function wideMapTile(spec: GemmConvSpec, t: Readonly<ConvTiles>, gemm: GemmConvPlan | null): { TO: number; TP: number } | null {
  const m = t.wideMaps;
  if (!m || gemm || !convShuffles(t) || spec.tapsW.scale !== 1 || spec.tw !== 1 || spec.th !== 1) return null;
  return spec.B >= m.minW && spec.B % 4 === 0 ? { TO: m.TO, TP: m.TP } : null;
}

/**
 * The default tile's pixel count on a row of B columns that it does not divide (14 px at the
 * study's 224-px inputs: 8 + 6 columns, the second tile a quarter idle): the largest divisor of B
 * from TP down to TP / 2 (14: 7), where `ConvTiles.evenRows` is on. Such tiles read the source
 * with scalar loads (vec4 needs tiles on multiples of 4 columns) and still win; the wide tiles
 * lose more by that than they waste (28 px with 16 x 14: 63 against 107), so they keep theirs.
 */
function evenRowTile(spec: GemmConvSpec, TP: number, t: Readonly<ConvTiles>, gemm: GemmConvPlan | null): number {
  if (!t.evenRows || gemm || !convShuffles(t) || spec.B <= TP || spec.B % TP === 0) return TP;
  for (let d = TP - 1; 2 * d >= TP; d--) if (spec.B % d === 0) return d;
  return TP;
}

/** A gather problem's register tile: the wide-map tile where it applies (and `wide` allows), else TO x TP with TP fitted to the row. */
function gatherTile(spec: GemmConvSpec, t: Readonly<ConvTiles>, gemm: GemmConvPlan | null, TO: number, TP: number, wide = true): { TO: number; TP: number } {
  return (wide ? wideMapTile(spec, t, gemm) : null) ?? { TO, TP: evenRowTile(spec, TP, t, gemm) };
}

/** The forward pass as a gather-conv problem (the direct kernels' spec; the GEMM kernels' too). */
export function forwardSpec(g: ConvGeometry, bias: boolean): GemmConvSpec {
  const R = g.C / g.groups;
  const Og = g.O / g.groups;
  const axis = (k: number, s: number, p: number, d: number): TapAxis => ({ count: k, k0: 0, kStep: 1, off0: -p, offStep: d, scale: s });
  return {
    N: g.N,
    R,
    O: g.O,
    Og,
    groups: g.groups,
    IH: g.H,
    IW: g.W,
    A: g.OH,
    B: g.OW,
    OH: g.OH,
    OW: g.OW,
    rh: 0,
    rw: 0,
    th: 1,
    tw: 1,
    tapsH: axis(g.KH, g.sh, g.ph, g.dh),
    tapsW: axis(g.KW, g.sw, g.pw, g.dw),
    KW: g.KW,
    wGroup: Og * R * g.KH * g.KW,
    wO: R * g.KH * g.KW,
    wR: g.KH * g.KW,
    bias: !!bias,
  };
}

/**
 * 2-D convolution (cross-correlation, as PyTorch): x [N, C, H, W], w [O, C/groups, KH, KW],
 * optional bias [O] → [N, O, OH, OW].
 */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  const tiles = activeConvTiles();
  const op = 'conv2d';
  checkTensor(op, 'input', x);
  checkTensor(op, 'weight', w);
  const g = convGeometry(op, x.shape, w.shape, opts);
  if (bias) {
    checkTensor(op, 'bias', bias);
    if (bias.rank !== 1 || bias.shape[0] !== g.O)
      throw new Error(`conv2d: bias must be [${g.O}], got ${fmt(bias.shape)} (input ${fmt(x.shape)}, weight ${fmt(w.shape)})`);
  }
  const out = Tensor.empty([g.N, g.O, g.OH, g.OW], x.dtype, op);
  if (!convUsesGemm(g) && usesPointwise(g, tiles)) {
    pointwiseForward(op, g, tiles, x, w, bias, out);
    return out;
  }
  const spec = forwardSpec(g, !!bias);
  const plan = convUsesGemm(g) ? planGemmConv(op, g, spec, out) : null;
  const target = plan ? gemmConvTarget(op, plan, out) : out;
  // On an unrolled reduction the shuffling kernels' 16 x 8 tile was slower than the plain 8 x 8 on
  // lavapipe (median call: conv1's 7x7/2 over 3 channels 41-53 against 70 GFLOP/s, VGG's conv1_1
  // 30-31 against 34-35).
  const fwd = unrollsReduction(g.C / g.groups) ? convTiles() : tiles;
  const t = gatherTile(spec, fwd, plan, fwd.fwdTO, fwd.fwdTP, fwd === tiles);
  dispatchGather(op, spec, t.TO, t.TP, x, w, target, bias, plan);
  if (plan) finishGemmConv(op, plan, target, out, bias);
  return out;
}

function checkGrad(op: string, dy: Tensor, g: ConvGeometry, other: string): void {
  const want = [g.N, g.O, g.OH, g.OW];
  if (dy.rank !== 4 || dy.shape.some((d, i) => d !== want[i])) {
    throw new Error(`${op}: gradient must be ${fmt(want)} for ${other}, got ${fmt(dy.shape)}`);
  }
}

/** Gradient of conv2d with respect to its input: dy [N, O, OH, OW], w → dx of `inputShape`. */
export function conv2dBackwardInput(dy: Tensor, w: Tensor, inputShape: Shape, opts: Conv2dOptions = {}): Tensor {
  const tiles = activeConvTiles();
  const op = 'conv2dBackwardInput';
  checkTensor(op, 'dy', dy);
  checkTensor(op, 'weight', w);
  const g = convGeometry(op, inputShape, w.shape, opts);
  checkGrad(op, dy, g, `input ${fmt(inputShape)}, weight ${fmt(w.shape)}`);
  if (!convUsesGemm(g) && usesPointwise(g, tiles)) return pointwiseInputGrad(op, g, tiles, dy, w, inputShape);
  const Cg = g.C / g.groups;
  const Og = g.O / g.groups;
  const KK = g.KH * g.KW;
  const specs: GemmConvSpec[] = [];
  for (let rh = 0; rh < Math.min(g.sh, g.H); rh++) {
    for (let rw = 0; rw < Math.min(g.sw, g.W); rw++) {
      specs.push({
        N: g.N,
        R: Og,
        O: g.C,
        Og: Cg,
        groups: g.groups,
        IH: g.OH,
        IW: g.OW,
        A: Math.ceil((g.H - rh) / g.sh),
        B: Math.ceil((g.W - rw) / g.sw),
        OH: g.H,
        OW: g.W,
        rh,
        rw,
        th: g.sh,
        tw: g.sw,
        tapsH: classTaps(rh, g.sh, g.ph, g.dh, g.KH),
        tapsW: classTaps(rw, g.sw, g.pw, g.dw, g.KW),
        KW: g.KW,
        wGroup: Og * Cg * KK,
        wO: KK,
        wR: Cg * KK,
        bias: false,
      });
    }
  }
  const gemm = convUsesGemm(g);
  // Direct kernels: residue classes that no tap reaches (1x1 stride 2: three of four) are zeros,
  // one fill (a pipeline shared by every shape) instead of a conv pipeline per class.
  const reached = (c: GemmConvSpec) => c.tapsH.count > 0 && c.tapsW.count > 0;
  const fill = !gemm && specs.some((c) => !reached(c));
  const dx = fill ? zeros([...inputShape], dy.dtype) : Tensor.empty([...inputShape], dy.dtype, op);
  // One plan for every stride class (class 0 is the largest), so their split slices line up.
  const plan = gemm && specs.length > 0 ? planGemmConv(op, g, specs[0], dx) : null;
  const target = plan ? gemmConvTarget(op, plan, dx) : dx;
  // Residue classes with one or two taps do few FMAs per shared weight load: wider channel tiles.
  // The first rule of `bwdFewTaps` that a class fits decides its tile.
  const rules = tiles.bwdFewTaps === null || gemm ? [] : [tiles.bwdFewTaps].flat();
  const few = (c: GemmConvSpec) => rules.find((r) => c.tapsH.count * c.tapsW.count <= (r.maxTaps ?? 2) && c.B <= r.maxB);
  for (const spec of specs)
    if (!fill || reached(spec)) {
      const t = few(spec) ?? gatherTile(spec, tiles, plan, tiles.bwdTO, tiles.bwdTP);
      dispatchGather(op, spec, t.TO, t.TP, dy, w, target, null, plan);
    }
  if (plan) finishGemmConv(op, plan, target, dx, null);
  return dx;
}

/** Gradient of conv2d with respect to its weight: dy [N, O, OH, OW], x → dw of `weightShape`. */
export function conv2dBackwardWeight(dy: Tensor, x: Tensor, weightShape: Shape, opts: Conv2dOptions = {}, dtype: DType = x.dtype): Tensor {
  const tiles = activeConvTiles();
  const op = 'conv2dBackwardWeight';
  checkTensor(op, 'dy', dy);
  checkTensor(op, 'input', x);
  const g = convGeometry(op, x.shape, weightShape, opts);
  checkGrad(op, dy, g, `input ${fmt(x.shape)}, weight ${fmt(weightShape)}`);
  const Rg = g.C / g.groups;
  const Og = g.O / g.groups;
  if (convUsesGemm(g)) return gemmWeightGrad(op, g, dy, x, weightShape, dtype);
  if (usesPointwise(g, tiles)) return pointwiseWeightGrad(op, g, tiles, dy, x, weightShape, dtype);
  // Tap lanes need enough taps to fill the lanes: with shared dy loads 9 (VGG's first conv) is enough.
  const minTaps = convShuffles(tiles) ? 9 : 16;
  if (tiles.wTaps > 0 && tiles.wSplit <= 0 && g.groups === 1 && g.C <= tiles.wTaps && g.KH * g.KW >= minTaps && gpu().isCpuAdapter)
    return tapsWeightGrad(op, g, dy, x, weightShape, dtype);
  if (convShuffles(tiles) && g.KW > 1 && usesWeightGradRows(g, tiles)) return rowsWeightGrad(op, g, dy, x, weightShape, dtype);
  let plan = weightGradSplit(g, gpu().isCpuAdapter, tiles, gpu().pageElements * 4);
  // Split kernels do not shuffle: they keep the plain tiles.
  if (plan.S > 1 && tiles !== convTiles()) plan = weightGradSplit(g, gpu().isCpuAdapter, convTiles(), gpu().pageElements * 4);
  const { S, CR, mode, TO, TR } = plan;
  if (tiles.wRowTaps && S === 1 && usesWeightGradRowTaps(g, tiles)) return rowTapsWeightGrad(op, g, dy, x, weightShape, dtype, tiles.wRowTaps);
  const rTiles = Math.ceil(Rg / TR);
  const lanes = rTiles * S;
  // Shared dy: one 8-lane subgroup per workgroup (unsplit only: split lanes read different rows).
  const shuffle = S === 1 && convShuffles(tiles);
  const wg = shuffle ? 8 : Math.min(tiles.wg, Math.ceil(lanes / 8) * 8);
  const target = weightGradTarget(op, weightShape, S, dtype);
  const k = sized(cachedConvWeightGradWgsl({ ...g, Rg, Og, TO, TR, WG: wg, S, splitMode: mode, CR, shuffle }));
  runKernel({
    name: op,
    body: k.wgsl,
    inputs: { dy, x },
    outputs: { out: target },
    uniforms: k.uniforms,
    workgroups: [Math.ceil(lanes / wg), Math.ceil(g.O / TO), g.KH * g.KW],
  });
  if (S === 1) return target;
  return sumPartials(op, target, weightShape, S, dtype);
}

/** Whether the weight gradient walks whole unrolled rows (see `ConvTiles.wRows`, `wRowsStride2`). */
function usesWeightGradRows(g: ConvGeometry, t: Readonly<ConvTiles>): boolean {
  if (g.sw === 1) return g.OW <= t.wRows && g.W <= 2 * t.wRows;
  return g.sw === 2 && g.OW <= t.wRowsStride2 && g.W <= 2 * t.wRowsStride2;
}

/** Whether the weight gradient takes one kernel row per workgroup (see `ConvTiles.wRowTaps`; rows not split). */
function usesWeightGradRowTaps(g: ConvGeometry, t: Readonly<ConvTiles>): boolean {
  const r = t.wRowTaps;
  return !!r && convShuffles(t) && g.groups === 1 && g.sh === g.sw && g.sw <= r.maxStride && g.dh === 1 && g.dw === 1 && g.KW > 1 && g.OW >= r.minOW;
}

/** Weight gradient, one kernel row per workgroup with all its columns: see convWeightGradRowTapsWgsl. */
function rowTapsWeightGrad(
  op: string,
  g: ConvGeometry,
  dy: Tensor,
  x: Tensor,
  weightShape: Shape,
  dtype: DType,
  t: { TO: number; TR: number; cols: number; colsMinOW: number },
): Tensor {
  const TO = Math.min(t.TO, g.O);
  const TR = Math.min(t.TR, g.C);
  // Output columns per iteration (stride 1, rows at least colsMinOW wide): the largest power of
  // two up to t.cols that divides the row.
  let cols = 1;
  while (g.sw === 1 && g.OW >= t.colsMinOW && cols * 2 <= t.cols && g.OW % (cols * 2) === 0) cols *= 2;
  const dw = Tensor.empty([...weightShape], dtype, op);
  // Planes 4 KB apart (224-px maps): padded copies, their strides passed as uniforms (not where
  // the sizes are written into the WGSL).
  const { padPlanes: pad, bakeSizes } = convTiles();
  const padX = pad && !bakeSizes && planesAlias(g.H * g.W, x.dtype);
  const padDy = pad && !bakeSizes && planesAlias(g.OH * g.OW, dy.dtype);
  const xs = padX ? padPlanes(x, g.N * g.C, g.H * g.W, op) : x;
  const dys = padDy ? padPlanes(dy, g.N * g.O, g.OH * g.OW, op) : dy;
  const planeStrides = { x: g.H * g.W + (padX ? planePad : 0), dy: g.OH * g.OW + (padDy ? planePad : 0) };
  const k = sized(cachedConvWeightGradRowTapsWgsl({ ...g, Rg: g.C, Og: g.O, TO, TR, WG: 8, S: 1, planeStrides, cols }));
  runKernel({
    name: op,
    body: k.wgsl,
    inputs: { dy: dys, x: xs },
    outputs: { out: dw },
    uniforms: k.uniforms,
    workgroups: [Math.ceil(Math.ceil(g.C / TR) / 8), Math.ceil(g.O / TO), g.KH],
  });
  if (padX) xs.dispose();
  if (padDy) dys.dispose();
  return dw;
}

/** The whole-row weight gradients' FMA chain setting, as a spec field (none where off, so the spec and WGSL stay as without it). */
function chained(): { chain?: number } {
  const c = convTiles().wChain;
  return c > 1 ? { chain: c } : {};
}

/** Weight gradient over whole unrolled rows, all kernel columns at once: see convWeightGradRowsWgsl. */
function rowsWeightGrad(op: string, g: ConvGeometry, dy: Tensor, x: Tensor, weightShape: Shape, dtype: DType): Tensor {
  const Rg = g.C / g.groups;
  const Og = g.O / g.groups;
  const all = convTiles().wRowsAllTaps;
  if (all && g.groups === 1 && g.sw === 1 && g.C % all.TR === 0) {
    const dw = Tensor.empty([...weightShape], dtype, op);
    const TO = Math.min(all.TO, g.O);
    runKernel({
      name: op,
      body: cachedConvWeightGradRowsAllTapsWgsl({ ...g, Rg, Og, TO, TR: all.TR, WG: 8, S: 1, ...chained() }),
      inputs: { dy, x },
      outputs: { out: dw },
      uniforms: { N: ['u32', g.N], O: ['u32', g.O], TO: ['u32', TO] },
      workgroups: [Math.ceil(g.C / all.TR / 8), Math.ceil(g.O / TO), 1],
    });
    return dw;
  }
  const t = convTiles().wRowsTile;
  const TO = channelTile(t.TO, Og, g.groups);
  const TR = Math.max(1, Math.min(Rg, Math.floor(t.maxAcc / (TO * g.KW)) || 1, 16));
  const rTiles = Math.ceil(Rg / TR);
  const dw = Tensor.empty([...weightShape], dtype, op);
  runKernel({
    name: op,
    body: cachedConvWeightGradRowsWgsl({ ...g, Rg, Og, TO, TR, WG: 8, S: 1, ...chained() }),
    inputs: { dy, x },
    outputs: { out: dw },
    uniforms: { N: ['u32', g.N], O: ['u32', g.O], TO: ['u32', TO] },
    workgroups: [Math.ceil(rTiles / 8), Math.ceil(g.O / TO), g.KH],
  });
  return dw;
}

/** Weight gradient with lanes over taps (few input channels on a CPU adapter): see convWeightGradTapsWgsl. */
function tapsWeightGrad(op: string, g: ConvGeometry, dy: Tensor, x: Tensor, weightShape: Shape, dtype: DType): Tensor {
  const tiles = convTiles();
  const TO = Math.max(1, Math.min(tiles.wTapsTO, Math.floor(128 / g.C), g.O));
  const oTiles = Math.ceil(g.O / TO);
  const rows = g.N * g.OH;
  const perSplit = g.O * g.C * g.KH * g.KW * 4;
  // Enough workgroups for the cores (and short serial loops), each split >= 64 output pixels: 16
  // (conv1: 2 channel tiles x 8 splits). 32 ran no faster, and 8 splits keep conv1's sums in the
  // order they had with 16-channel tiles, so trained results do not move.
  let S = Math.max(
    1,
    Math.min(Math.ceil(16 / oTiles), rows, Math.floor((rows * g.OW) / 64), Math.floor(Math.min(tiles.wPartialBytes, gpu().pageElements * 4) / perSplit)),
  );
  const CR = Math.ceil(rows / S);
  S = Math.ceil(rows / CR);
  const WG = Math.ceil((g.KH * g.KW) / 8) * 8;
  const target = weightGradTarget(op, weightShape, S, dtype);
  runKernel({
    name: op,
    body: cachedConvWeightGradTapsWgsl({ ...g, TO, WG, shuffle: convShuffles(tiles), vec4: tiles.vec4 }),
    inputs: { dy, x },
    outputs: { out: target },
    uniforms: { CR: ['u32', CR], rows: ['u32', rows], O: ['u32', g.O], TO: ['u32', TO] },
    workgroups: [S, oTiles, 1],
  });
  return S === 1 ? target : sumPartials(op, target, weightShape, S, dtype);
}

/**
 * Where a weight gradient is written: dw itself in the weight's dtype (float32 under autocast,
 * where float16 activations meet the float32 weight), or float32 split-K partials, so that only
 * the final sum rounds.
 */
function weightGradTarget(op: string, weightShape: Shape, S: number, dtype: DType): Tensor {
  return S === 1 ? Tensor.empty([...weightShape], dtype, op) : Tensor.empty([S, ...weightShape], 'float32', op);
}

function sumPartials(op: string, target: Tensor, weightShape: Shape, S: number, dtype: DType): Tensor {
  const dw = Tensor.empty([...weightShape], dtype, op);
  const M = dw.size;
  runKernel({
    name: `${op}.sumPartials`,
    body: cachedSumPartialsWgsl(64),
    inputs: { part: target },
    outputs: { out: dw },
    uniforms: { S: ['u32', S], M: ['u32', M] },
    workgroups: grid1d(M, 64),
  });
  target.dispose();
  return dw;
}

function gemmWeightGrad(op: string, g: ConvGeometry, dy: Tensor, x: Tensor, weightShape: Shape, dtype: DType): Tensor {
  const tiles = convTiles();
  const choice = convShapeChoice('conv2dBackwardWeight', g, x.dtype);
  const c = fitSharedMemory(op, choice?.gemm ?? tiles.wGemm, gemmWeightGradSharedBytes, gpu().limits.maxComputeWorkgroupStorageSize);
  const t = { ...tiles, wGemm: c, gemmWgTarget: choice?.splitTarget ?? tiles.gemmWgTarget };
  const { S, CK } = gemmWeightGradSplit(g, t, gpu().pageElements * 4);
  const spec = { ...g, Rg: g.C / g.groups, Og: g.O / g.groups, S, CK };
  const target = weightGradTarget(op, weightShape, S, dtype);
  runKernel({
    name: op,
    body: cachedGemmWeightGradWgsl(spec, c),
    inputs: { dy, x },
    outputs: { out: target },
    uniforms: gemmWeightGradUniforms(spec),
    workgroups: gemmWeightGradGrid(spec, c),
  });
  return S === 1 ? target : sumPartials(op, target, weightShape, S, dtype);
}

/** Gradient of conv2d's bias: the sum of dy [N, O, OH, OW] over N, OH, OW → [O]. */
export function conv2dBackwardBias(dy: Tensor): Tensor {
  checkTensor('conv2dBackwardBias', 'dy', dy);
  if (dy.rank !== 4) throw new Error(`conv2dBackwardBias: gradient must be 4-D [N, O, OH, OW], got ${fmt(dy.shape)}`);
  return sum(dy, [0, 2, 3]);
}

/**
 * Per-shape tile tuning of the implicit-GEMM conv kernels: times a few tile / split-K candidates
 * for every conv shape that ran on that path without a tuned choice since the last call, and
 * keeps the fastest per adapter and shape (in memory and in `conv-tune.json` in the cache
 * directory). Training steps call it after each step (a no-op once every shape is tuned); on a
 * CPU adapter it does nothing unless `force` (compiles cost seconds there).
 */
export async function autotuneConv(options: ConvTuneOptions & { force?: boolean } = {}): Promise<ConvTuneResult[]> {
  if (gpu().isCpuAdapter && !options.force) return [];
  return tuneConvShapes((op, g, x, w, dy) => {
    const o: Conv2dOptions = { stride: [g.sh, g.sw], padding: [g.ph, g.pw], dilation: [g.dh, g.dw], groups: g.groups };
    if (op === 'conv2d') return conv2d(x, w, null, o);
    if (op === 'conv2dBackwardInput') return conv2dBackwardInput(dy, w, x.shape, o);
    return conv2dBackwardWeight(dy, x, w.shape, o);
  }, options);
}
