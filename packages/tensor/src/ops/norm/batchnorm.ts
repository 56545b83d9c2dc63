import { fmt } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { runKernel } from '../../kernel/run.ts';
import { gpu } from '../../device/device.ts';
import { reluBackward } from '../grad/pointwise.ts';
import {
  bnBackwardDxWgsl,
  bnBackwardMergeWgsl,
  bnBackwardPartialWgsl,
  bnBackwardReduceLanesWgsl,
  bnBackwardReduceWgsl,
  bnEvalStatsWgsl,
  bnLanes,
  bnNormalizeWgsl,
  bnStatsMergeWgsl,
  bnStatsLanesWgsl,
  bnStatsPartialWgsl,
  bnStatsWgsl,
  bnVec,
  type BnLayout,
} from './batchnorm.wgsl.ts';
import { reciprocalOf } from '../../kernel/divide.wgsl.ts';

/**
 * Lanes per channel workgroup: 64 on a CPU adapter, where the tree fold's barriers dominate
 * (256 lanes made the per-channel reductions ~2x slower on lavapipe), 256 on a GPU.
 */
const wgChannelOf = () => (gpu().isCpuAdapter ? 64 : 256);
/** Units (vec4s or scalars) each lane of a per-element pass handles: the chunk is wg times this. */
const unitsPerLane = 8;

/** A per-element pass's chunk of a channel: wg · 8 units, more if the chunks would pass 65535 (the grid's y limit). */
const chunkOf = (units: number, wg: number) => wg * Math.max(unitsPerLane, Math.ceil(units / (wg * 65535)));

/**
 * Invocations wanted in flight for the per-channel reductions: with one workgroup per channel
 * (64-512 on a GPU) each channel's N*H*W values are cut into P chunks reduced by separate
 * workgroups, then merged in order (deterministic). null = per adapter: 0 (one workgroup per
 * channel, unchanged) on a CPU adapter, 65536 on a GPU.
 */
let splitTarget: number | null = null;

export function setBatchNormSplitTarget(target: number | null): void {
  splitTarget = target;
}

/**
 * How unsplit per-channel sums (training statistics, the backward's Σdy and Σdy·x̂) are reduced:
 * 'lanes' = one lane per channel walking its values (`bnStatsLanesWgsl`), 'workgroups' = one
 * workgroup per channel and a fold in workgroup memory. null = per adapter: lanes on a CPU
 * adapter, where the fold's barriers cost more than the sums on small maps, workgroups on a GPU,
 * whose lanes a channel each would leave idle.
 */
export type ChannelSums = 'lanes' | 'workgroups';
let channelSums: ChannelSums | null = null;

export function setBatchNormChannelSums(mode: ChannelSums | null): void {
  if (mode !== null && mode !== 'lanes' && mode !== 'workgroups')
    throw new Error(`setBatchNormChannelSums: 'lanes', 'workgroups' or null, got ${JSON.stringify(mode)}`);
  channelSums = mode;
}

const sumsByLanes = () => (channelSums ?? (gpu().isCpuAdapter ? 'lanes' : 'workgroups')) === 'lanes';

function chunksOf(l: BnLayout): number {
  const wgChannel = wgChannelOf();
  const target = splitTarget ?? (gpu().isCpuAdapter ? 0 : 65536);
  const want = Math.ceil(target / (l.C * wgChannel));
  // At least 4 values per lane in each chunk.
  return Math.max(1, Math.min(want, Math.floor((l.N * l.HW) / (wgChannel * 4)), 65535));
}

export interface BatchNorm2dOptions {
  /** γ [C]; omitted = 1 (affine=false). */
  weight?: Tensor | null;
  /** β [C]; omitted = 0. */
  bias?: Tensor | null;
  /** [C], updated IN PLACE in training mode. */
  runningMean: Tensor;
  /** [C], updated IN PLACE in training mode (with the unbiased batch variance). */
  runningVar: Tensor;
  training: boolean;
  momentum?: number;
  eps?: number;
  /** Added after the affine step, before the ReLU (same shape as x): ResNet's skip connection. */
  residual?: Tensor | null;
  /** Applies a ReLU to the result in the same pass. */
  relu?: boolean;
  /**
   * A one-element counter (BatchNorm's `num_batches_tracked`, int32 or float32) that the
   * training statistics pass increments in place, as PyTorch's module does each training step;
   * ignored in eval mode.
   */
  numBatchesTracked?: Tensor | null;
}

function layout(op: string, x: Tensor): BnLayout {
  x.storage(op);
  if (x.rank !== 4 && x.rank !== 2 && x.rank !== 3) throw new Error(`${op}: input must be [N,C,H,W] (or [N,C] / [N,C,L]), got ${fmt(x.shape)}`);
  if (x.dtype === 'int32') throw new Error(`${op}: input must be float32 or float16, got ${x.dtype} ${fmt(x.shape)}`);
  return { N: x.shape[0], C: x.shape[1], HW: x.shape.slice(2).reduce((a, b) => a * b, 1) };
}

type Uniform = ['u32' | 'f32', number];

/**
 * Every size as a uniform, so each pass compiles once for all layer shapes and batch sizes (on
 * lavapipe each batch-norm pipeline costs a fifth to a half of a second to compile; ResNet-18 had
 * one per channel count and map size, per pass). Units are vec4s with `vec`, else scalars; `wg`
 * is the channel workgroup whose lanes walk (n, h) in steps of (dn, dh).
 */
function bnUniforms(l: BnLayout, vec: boolean, wg: number): Record<string, Uniform> {
  const HW = vec ? l.HW / 4 : l.HW;
  const u = (v: number): Uniform => ['u32', v];
  return {
    C: u(l.C),
    HW: u(HW),
    R: u(l.N * HW),
    M: u(l.N * l.HW),
    chunk: u(chunkOf(l.N * HW, wg)),
    dh: u(wg % HW),
    dk: u(Math.floor(wg / HW) * l.C * HW + (wg % HW)),
    carry: u(l.C * HW - HW),
    invHW: reciprocalOf(HW),
  };
}

/** The per-element passes' grid: channels along x, chunks of `chunk` units of a channel along y. */
function perChannelGrid(l: BnLayout, vec: boolean, wg: number): [number, number, number] {
  const units = (l.N * l.HW) / (vec ? 4 : 1);
  return [l.C, Math.ceil(units / chunkOf(units, wg)), 1];
}

/** The split reductions' sizes (scalar units): P chunks of CH values per channel. */
function splitUniforms(l: BnLayout, P: number, wg: number): Record<string, Uniform> {
  const M = l.N * l.HW;
  return { ...bnUniforms(l, false, wg), P: ['u32', P], CH: ['u32', Math.ceil(M / P)] };
}

function checkChannel(op: string, name: string, t: Tensor | null | undefined, C: number, xShape: readonly number[]): void {
  if (!t) return;
  t.storage(op);
  if (t.dtype !== 'float32' || t.rank !== 1 || t.shape[0] !== C) {
    throw new Error(`${op}: ${name} must be float32 [${C}] for input ${fmt(xShape)}, got ${t.dtype} ${fmt(t.shape)}`);
  }
}

/**
 * Batch normalisation over the channel axis of NCHW input, as `torch.nn.functional.batch_norm`.
 * Training: normalises with the batch mean and biased variance and updates `runningMean` and
 * `runningVar` in place (momentum, unbiased variance). Eval: uses the running statistics.
 * Returns the saved mean and 1/sqrt(var + eps) used, which the backward needs.
 * `residual` and `relu` fuse `relu(bn(x) + residual)` into the normalising pass; the backward then
 * takes the output as `reluOut`.
 */
export function batchNorm2d(x: Tensor, o: BatchNorm2dOptions): { out: Tensor; saveMean: Tensor; saveInvstd: Tensor } {
  const op = 'batchNorm2d';
  const l = layout(op, x);
  const vec = bnVec(l);
  const wgChannel = wgChannelOf();
  const sizes = bnUniforms(l, vec, wgChannel);
  checkChannel(op, 'weight', o.weight, l.C, x.shape);
  checkChannel(op, 'bias', o.bias, l.C, x.shape);
  checkChannel(op, 'runningMean', o.runningMean, l.C, x.shape);
  checkChannel(op, 'runningVar', o.runningVar, l.C, x.shape);
  if (o.residual) {
    o.residual.storage(op);
    if (o.residual.dtype === 'int32' || o.residual.shape.join() !== x.shape.join()) {
      throw new Error(`${op}: residual ${o.residual.dtype} ${fmt(o.residual.shape)} must match input ${fmt(x.shape)}`);
    }
  }
  const counter = o.training && o.numBatchesTracked ? o.numBatchesTracked : null;
  if (counter) {
    counter.storage(op);
    if (counter.size !== 1 || counter.dtype === 'float16')
      throw new Error(`${op}: numBatchesTracked must be one int32 or float32 element, got ${counter.dtype} ${fmt(counter.shape)}`);
  }
  const count: Record<string, Tensor> = counter ? { n: counter } : {};
  const momentum = o.momentum ?? 0.1;
  const eps = o.eps ?? 1e-5;
  if (o.training && l.N * l.HW <= 1) throw new Error(`${op}: expected more than 1 value per channel when training, got input ${fmt(x.shape)}`);
  const saveMean = Tensor.empty([l.C], 'float32', `${op}.saveMean`);
  const saveInvstd = Tensor.empty([l.C], 'float32', `${op}.saveInvstd`);
  const P = o.training ? chunksOf(l) : 1;
  if (o.training && P > 1) {
    const part = Tensor.empty([l.C, P, 2], 'float32', `${op}.partials`);
    const split = splitUniforms(l, P, wgChannel);
    runKernel({
      name: `${op}.statsPartial`,
      body: bnStatsPartialWgsl(wgChannel),
      inputs: { x },
      outputs: { part },
      uniforms: split,
      workgroups: [l.C, P, 1],
    });
    runKernel({
      name: `${op}.statsMerge`,
      body: bnStatsMergeWgsl(64, !!counter),
      inputs: { part },
      outputs: { saveMean, saveInvstd, runningMean: o.runningMean, runningVar: o.runningVar, ...count },
      uniforms: { eps: ['f32', eps], momentum: ['f32', momentum], ...split },
      workgroups: [Math.ceil(l.C / 64), 1, 1],
    });
    part.dispose();
  } else if (o.training) {
    const lanes = sumsByLanes();
    runKernel({
      name: `${op}.stats`,
      body: lanes ? bnStatsLanesWgsl(vec, !!counter) : bnStatsWgsl(vec, wgChannel, !!counter),
      inputs: { x },
      outputs: { saveMean, saveInvstd, runningMean: o.runningMean, runningVar: o.runningVar, ...count },
      uniforms: { eps: ['f32', eps], momentum: ['f32', momentum], ...sizes },
      workgroups: [lanes ? Math.ceil(l.C / bnLanes) : l.C, 1, 1],
    });
  } else {
    runKernel({
      name: `${op}.evalStats`,
      body: bnEvalStatsWgsl(64),
      inputs: { runningMean: o.runningMean, runningVar: o.runningVar },
      outputs: { saveMean, saveInvstd },
      uniforms: { eps: ['f32', eps], C: ['u32', l.C] },
      workgroups: [Math.ceil(l.C / 64), 1, 1],
    });
  }
  // x's dtype, as autocast's batch_norm; the statistics and the per-channel vectors stay float32.
  const out = Tensor.empty(x.shape, x.dtype, op);
  const inputs: Record<string, Tensor> = { x, saveMean, saveInvstd };
  if (o.weight) inputs.weight = o.weight;
  if (o.bias) inputs.bias = o.bias;
  if (o.residual) inputs.residual = o.residual;
  const epilogue = { weight: !!o.weight, bias: !!o.bias, residual: !!o.residual, relu: !!o.relu };
  runKernel({
    name: o.residual || o.relu ? `${op}${o.residual ? '.add' : ''}${o.relu ? '.relu' : ''}` : op,
    body: bnNormalizeWgsl(vec, epilogue, wgChannel),
    inputs,
    outputs: { out },
    uniforms: sizes,
    workgroups: perChannelGrid(l, vec, wgChannel),
  });
  return { out, saveMean, saveInvstd };
}

/**
 * Fused batch-norm backward: per-channel Σdy and Σdy·x̂ in one kernel (these are dbias and
 * dweight), then dx in one flat kernel. `training` (default true) says whether the forward used
 * batch statistics; in eval mode dx = γ·invstd·dy. `reluOut`: the forward was fused with a ReLU
 * (`relu: true`) and this is its output; dy is then taken as 0 where it is not positive (the
 * ReLU's gradient, folded into both kernels). The residual's gradient is that masked dy
 * (`reluBackward(dy, reluOut)`), which the caller computes only when it needs it.
 */
export function batchNorm2dBackward(
  dy: Tensor,
  x: Tensor,
  weight: Tensor | null | undefined,
  saveMean: Tensor,
  saveInvstd: Tensor,
  options: { training?: boolean; reluOut?: Tensor | null } = {},
): { dx: Tensor; dweight: Tensor; dbias: Tensor } {
  const op = 'batchNorm2dBackward';
  const l = layout(op, x);
  const vec = bnVec(l);
  const wgChannel = wgChannelOf();
  const sizes = bnUniforms(l, vec, wgChannel);
  dy.storage(op);
  if (dy.dtype === 'int32' || dy.shape.join() !== x.shape.join())
    throw new Error(`${op}: gradient ${dy.dtype} ${fmt(dy.shape)} must match input ${fmt(x.shape)}`);
  checkChannel(op, 'weight', weight, l.C, x.shape);
  checkChannel(op, 'saveMean', saveMean, l.C, x.shape);
  checkChannel(op, 'saveInvstd', saveInvstd, l.C, x.shape);
  const training = options.training ?? true;
  const reluOut = options.reluOut ?? null;
  if (reluOut) {
    reluOut.storage(op);
    if (reluOut.dtype === 'int32' || reluOut.shape.join() !== x.shape.join())
      throw new Error(`${op}: reluOut ${reluOut.dtype} ${fmt(reluOut.shape)} must match input ${fmt(x.shape)}`);
  }
  const masked = !!reluOut;
  const mask: Record<string, Tensor> = reluOut ? { reluOut } : {};
  const dweight = Tensor.empty([l.C], 'float32', `${op}.dweight`);
  const dbias = Tensor.empty([l.C], 'float32', `${op}.dbias`);
  const P = chunksOf(l);
  if (P > 1) {
    const part = Tensor.empty([l.C, P, 2], 'float32', `${op}.partials`);
    const split = splitUniforms(l, P, wgChannel);
    runKernel({
      name: `${op}.reducePartial`,
      body: bnBackwardPartialWgsl(wgChannel, masked),
      inputs: { dy, x, saveMean, ...mask },
      outputs: { part },
      uniforms: split,
      workgroups: [l.C, P, 1],
    });
    runKernel({
      name: `${op}.reduceMerge`,
      body: bnBackwardMergeWgsl(64),
      inputs: { part, saveInvstd },
      outputs: { dweight, dbias },
      uniforms: split,
      workgroups: [Math.ceil(l.C / 64), 1, 1],
    });
    part.dispose();
  } else {
    const lanes = sumsByLanes();
    runKernel({
      name: `${op}.reduce`,
      body: lanes ? bnBackwardReduceLanesWgsl(vec, masked) : bnBackwardReduceWgsl(vec, wgChannel, masked),
      inputs: { dy, x, saveMean, saveInvstd, ...mask },
      outputs: { dweight, dbias },
      uniforms: sizes,
      workgroups: [lanes ? Math.ceil(l.C / bnLanes) : l.C, 1, 1],
    });
  }
  // dy's dtype (x's in autocast); dweight and dbias stay float32 like the parameters.
  const dx = Tensor.empty(x.shape, dy.dtype, op);
  const inputs: Record<string, Tensor> = { dy, saveInvstd, ...mask };
  if (weight) inputs.weight = weight;
  if (training) Object.assign(inputs, { x, saveMean, dweight, dbias });
  // Fused, the dx pass binds 9 buffers (dy, reluOut, x, weight, four per-channel vectors, dx);
  // adapters that offer 8 per stage (WebGPU's default, many browsers, Dawn's null backend) get
  // the ReLU mask applied to dy by a separate pass instead.
  let dxMasked = masked;
  let maskedDy: Tensor | null = null;
  if (reluOut && Object.keys(inputs).length + 1 > gpu().limits.maxStorageBuffersPerShaderStage) {
    maskedDy = reluBackward(dy, reluOut);
    inputs.dy = maskedDy;
    delete inputs.reluOut;
    dxMasked = false;
  }
  runKernel({
    name: `${op}.dx`,
    body: bnBackwardDxWgsl(vec, !!weight, training, wgChannel, dxMasked),
    inputs,
    outputs: { dx },
    uniforms: sizes,
    workgroups: perChannelGrid(l, vec, wgChannel),
  });
  maskedDy?.dispose();
  return { dx, dweight, dbias };
}
