import { fmt, type Shape } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, runKernel } from '../../kernel/run.ts';
import { gpu } from '../../device/device.ts';
import { sum } from '../reduce/reduce.ts';
import { zeros } from '../creation/creation.ts';
import { convWeightGradTapsWgsl, convWeightGradWgsl, gatherConvWgsl, sumPartialsWgsl, type GatherConvSpec, type TapAxis } from './conv.wgsl.ts';
import {
  fitSharedMemory,
  gemmConvGrid,
  gemmConvSharedBytes,
  gemmConvWgsl,
  gemmWeightGradSharedBytes,
  gemmWeightGradGrid,
  gemmWeightGradWgsl,
} from './conv-gemm.wgsl.ts';
import { classTaps, convGeometry, type Conv2dOptions, type ConvGeometry } from './geometry.ts';
import { channelTile, convTiles, convUsesGemm, gemmWeightGradSplit, weightGradSplit } from './tiles.ts';

function checkTensor(op: string, name: string, t: Tensor): void {
  t.storage(op);
  if (t.dtype !== 'float32') throw new Error(`${op}: ${name} must be float32, got ${t.dtype} ${fmt(t.shape)}`);
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
  gemm: boolean,
): void {
  const tiles = convTiles();
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
    // Sized by one image's tiles, not the batch's, so that the WGSL (and the pipeline) does not
    // change with the batch size; a small workgroup still leaves no lane idle on narrow maps.
    const WG = Math.min(tiles.wg, Math.ceil(Math.ceil(spec.A / RT) / 8) * 8);
    runKernel({
      name: op,
      body: gatherConvWgsl({ ...full, RT, WG }),
      inputs: bias ? { src, w, bias } : { src, w },
      outputs: { out },
      uniforms: { tiles: ['u32', tilesP], rows: ['u32', spec.N * spec.A] },
      workgroups: [Math.ceil(tilesP / WG), Math.ceil(spec.O / TO), 1],
    });
    return;
  }
  runKernel({
    name: op,
    body: gatherConvWgsl(full),
    inputs: bias ? { src, w, bias } : { src, w },
    outputs: { out },
    uniforms: { tiles: ['u32', spec.N * spec.A * Math.ceil(spec.B / TP)] },
    workgroups: [Math.ceil((spec.N * spec.A * Math.ceil(spec.B / TP)) / tiles.wg), Math.ceil(spec.O / TO), 1],
  });
}

/**
 * 2-D convolution (cross-correlation, as PyTorch): x [N, C, H, W], w [O, C/groups, KH, KW],
 * optional bias [O] → [N, O, OH, OW].
 */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  const tiles = convTiles();
  const op = 'conv2d';
  checkTensor(op, 'input', x);
  checkTensor(op, 'weight', w);
  const g = convGeometry(op, x.shape, w.shape, opts);
  if (bias) {
    checkTensor(op, 'bias', bias);
    if (bias.rank !== 1 || bias.shape[0] !== g.O)
      throw new Error(`conv2d: bias must be [${g.O}], got ${fmt(bias.shape)} (input ${fmt(x.shape)}, weight ${fmt(w.shape)})`);
  }
  const out = Tensor.empty([g.N, g.O, g.OH, g.OW], 'float32', op);
  const R = g.C / g.groups;
  const Og = g.O / g.groups;
  const axis = (k: number, s: number, p: number, d: number): TapAxis => ({ count: k, k0: 0, kStep: 1, off0: -p, offStep: d, scale: s });
  dispatchGather(
    op,
    {
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
    },
    tiles.fwdTO,
    tiles.fwdTP,
    x,
    w,
    out,
    bias,
    convUsesGemm(g),
  );
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
  const tiles = convTiles();
  const op = 'conv2dBackwardInput';
  checkTensor(op, 'dy', dy);
  checkTensor(op, 'weight', w);
  const g = convGeometry(op, inputShape, w.shape, opts);
  checkGrad(op, dy, g, `input ${fmt(inputShape)}, weight ${fmt(w.shape)}`);
  const Cg = g.C / g.groups;
  const Og = g.O / g.groups;
  const KK = g.KH * g.KW;
  const gemm = convUsesGemm(g);
  const classes: { rh: number; rw: number; tapsH: TapAxis; tapsW: TapAxis }[] = [];
  let emptyClasses = 0;
  for (let rh = 0; rh < Math.min(g.sh, g.H); rh++) {
    for (let rw = 0; rw < Math.min(g.sw, g.W); rw++) {
      const tapsH = classTaps(rh, g.sh, g.ph, g.dh, g.KH);
      const tapsW = classTaps(rw, g.sw, g.pw, g.dw, g.KW);
      if (tapsH.count === 0 || tapsW.count === 0) emptyClasses++;
      else classes.push({ rh, rw, tapsH, tapsW });
    }
  }
  // Residue classes no tap reaches (3 of 4 for a 1x1 stride-2 conv) get zeros from the shared fill
  // kernel instead of a gather pipeline each: every one was a separate compilation of about a second
  // on lavapipe, for a kernel that writes zeros.
  const dx = emptyClasses > 0 ? zeros([...inputShape]) : Tensor.empty([...inputShape], 'float32', op);
  for (const { rh, rw, tapsH, tapsW } of classes) {
    dispatchGather(
      op,
      {
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
        tapsH,
        tapsW,
        KW: g.KW,
        wGroup: Og * Cg * KK,
        wO: KK,
        wR: Cg * KK,
        bias: false,
      },
      tiles.bwdTO,
      tiles.bwdTP,
      dy,
      w,
      dx,
      null,
      gemm,
    );
  }
  return dx;
}

/** Gradient of conv2d with respect to its weight: dy [N, O, OH, OW], x → dw of `weightShape`. */
export function conv2dBackwardWeight(dy: Tensor, x: Tensor, weightShape: Shape, opts: Conv2dOptions = {}): Tensor {
  const tiles = convTiles();
  const op = 'conv2dBackwardWeight';
  checkTensor(op, 'dy', dy);
  checkTensor(op, 'input', x);
  const g = convGeometry(op, x.shape, weightShape, opts);
  checkGrad(op, dy, g, `input ${fmt(x.shape)}, weight ${fmt(weightShape)}`);
  const Rg = g.C / g.groups;
  const Og = g.O / g.groups;
  if (convUsesGemm(g)) return gemmWeightGrad(op, g, dy, x, weightShape);
  if (tiles.wTaps > 0 && tiles.wSplit <= 0 && g.groups === 1 && g.C <= tiles.wTaps && g.KH * g.KW >= 16 && gpu().isCpuAdapter)
    return tapsWeightGrad(op, g, dy, x, weightShape);
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
    uniforms: { N: ['u32', g.N], CR: ['u32', CR], rows: ['u32', g.N * g.OH] },
    workgroups: [Math.ceil(lanes / wg), Math.ceil(g.O / TO), g.KH * g.KW],
  });
  if (S === 1) return target;
  return sumPartials(op, target, weightShape, S);
}

/** Weight gradient with lanes over taps (few input channels on a CPU adapter): see convWeightGradTapsWgsl. */
function tapsWeightGrad(op: string, g: ConvGeometry, dy: Tensor, x: Tensor, weightShape: Shape): Tensor {
  const tiles = convTiles();
  const TO = Math.max(1, Math.min(2 * tiles.wTO, Math.floor(128 / g.C), g.O));
  const oTiles = Math.ceil(g.O / TO);
  const rows = g.N * g.OH;
  const perSplit = g.O * g.C * g.KH * g.KW * 4;
  // Enough workgroups for the cores (and short serial loops), each split >= 64 output pixels.
  let S = Math.max(
    1,
    Math.min(Math.ceil(32 / oTiles), rows, Math.floor((rows * g.OW) / 64), Math.floor(Math.min(tiles.wPartialBytes, gpu().pageElements * 4) / perSplit)),
  );
  const CR = Math.ceil(rows / S);
  S = Math.ceil(rows / CR);
  const WG = Math.ceil((g.KH * g.KW) / 8) * 8;
  const target = S === 1 ? Tensor.empty([...weightShape], 'float32', op) : Tensor.empty([S, ...weightShape], 'float32', op);
  runKernel({
    name: op,
    body: convWeightGradTapsWgsl({ ...g, TO, WG }),
    inputs: { dy, x },
    outputs: { out: target },
    uniforms: { CR: ['u32', CR], rows: ['u32', rows] },
    workgroups: [S, oTiles, 1],
  });
  return S === 1 ? target : sumPartials(op, target, weightShape, S);
}

function sumPartials(op: string, target: Tensor, weightShape: Shape, S: number): Tensor {
  const dw = Tensor.empty([...weightShape], 'float32', op);
  const M = dw.size;
  runKernel({
    name: `${op}.sumPartials`,
    body: sumPartialsWgsl(M, 64),
    inputs: { part: target },
    outputs: { out: dw },
    uniforms: { S: ['u32', S] },
    workgroups: grid1d(M, 64),
  });
  target.dispose();
  return dw;
}

function gemmWeightGrad(op: string, g: ConvGeometry, dy: Tensor, x: Tensor, weightShape: Shape): Tensor {
  const tiles = convTiles();
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
