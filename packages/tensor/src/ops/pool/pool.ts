import { fmt, intPair, type IntPair } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, runKernel } from '../../kernel/run.ts';
import { gpu } from '../../device/device.ts';
import {
  adaptiveAvgPoolBackwardWgsl,
  adaptiveAvgPoolWgsl,
  avgPoolBackwardWgsl,
  avgPoolWgsl,
  maxPoolBackwardGatherWgsl,
  maxPoolBackwardScatterWgsl,
  maxPoolWgsl,
  type PoolGeom,
} from './pool.wgsl.ts';

const wg = 64;

export interface MaxPool2dOptions {
  kernelSize: IntPair;
  /** Defaults to kernelSize. */
  stride?: IntPair;
  padding?: IntPair;
  dilation?: IntPair;
  ceilMode?: boolean;
}

export interface AvgPool2dOptions {
  kernelSize: IntPair;
  stride?: IntPair;
  padding?: IntPair;
  /** Count padded zeros in the divisor (PyTorch's default, true). */
  countIncludePad?: boolean;
  ceilMode?: boolean;
}

function check4d(op: string, x: Tensor, what = 'input'): void {
  x.storage(op);
  if (x.rank !== 4) throw new Error(`${op}: ${what} must be NCHW (4-d), got ${fmt(x.shape)}`);
  if (x.dtype === 'int32') throw new Error(`${op}: ${what} must be float32 or float16, got ${x.dtype} ${fmt(x.shape)}`);
}

/** PyTorch's pooling output size, with the ceil-mode rule that the last window must start inside input + left padding. */
function poolOut(size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = size + 2 * p - d * (k - 1) - 1;
  let o = Math.floor((ceil ? span + s - 1 : span) / s) + 1;
  if (ceil && (o - 1) * s >= size + p) o--;
  return o;
}

function geometry(
  op: string,
  shape: readonly number[],
  o: { kernelSize: IntPair; stride?: IntPair; padding?: IntPair; dilation?: IntPair; ceilMode?: boolean },
): PoolGeom {
  const [kh, kw] = intPair(op, 'kernelSize', o.kernelSize, 1);
  const [sh, sw] = intPair(op, 'stride', o.stride ?? [kh, kw], 1);
  const [ph, pw] = intPair(op, 'padding', o.padding ?? 0, 0);
  const [dh, dw] = intPair(op, 'dilation', o.dilation ?? 1, 1);
  if (ph * 2 > kh || pw * 2 > kw) throw new Error(`${op}: padding [${ph},${pw}] must be at most half the kernel size [${kh},${kw}] (input ${fmt(shape)})`);
  const [N, C, H, W] = shape;
  const OH = poolOut(H, kh, sh, ph, dh, !!o.ceilMode);
  const OW = poolOut(W, kw, sw, pw, dw, !!o.ceilMode);
  if (OH <= 0 || OW <= 0)
    throw new Error(
      `${op}: input ${fmt(shape)} is too small for kernel [${kh},${kw}] (dilation [${dh},${dw}], padding [${ph},${pw}]): output would be ${OH}x${OW}`,
    );
  return { N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw };
}

function checkInputShape(op: string, inputShape: readonly number[], dy: Tensor): void {
  if (inputShape.length !== 4 || inputShape.some((d) => !Number.isInteger(d) || d < 0))
    throw new Error(`${op}: inputShape must be NCHW, got ${fmt(inputShape)}`);
  if (dy.shape[0] !== inputShape[0] || dy.shape[1] !== inputShape[1])
    throw new Error(`${op}: gradient ${fmt(dy.shape)} does not match input ${fmt(inputShape)} in N and C`);
}

/**
 * 2-d max pooling over NCHW. `indices` (int32, same shape as `out`) hold the flat index h*W+w of
 * each maximum inside its input plane, as PyTorch's `return_indices=True`.
 */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): { out: Tensor; indices: Tensor } {
  check4d('maxPool2d', x);
  const g = geometry('maxPool2d', x.shape, options);
  const out = Tensor.empty([g.N, g.C, g.OH, g.OW], x.dtype, 'maxPool2d');
  const indices = Tensor.empty(out.shape, 'int32', 'maxPool2d.indices');
  runKernel({
    name: 'maxPool2d',
    body: maxPoolWgsl(g, wg),
    inputs: { x },
    outputs: { out, indices },
    uniforms: { total: ['u32', out.size] },
    workgroups: grid1d(out.size, wg),
  });
  return { out, indices };
}

type MaxPoolBackwardForm = 'auto' | 'gather' | 'scatter';
let maxPoolBackwardForm: MaxPoolBackwardForm = 'auto';

/** Which maxPool2dBackward kernel runs: 'auto' (scatter per plane on CPU adapters, gather per element elsewhere); tests force one. */
export function setMaxPool2dBackwardForm(form: MaxPoolBackwardForm): void {
  maxPoolBackwardForm = form;
}

/**
 * Gradient of maxPool2d: each input element receives the gradients of the windows whose index names
 * it. `options` are the forward's (they bound which windows can hold an element in the gather form).
 */
export function maxPool2dBackward(dy: Tensor, indices: Tensor, inputShape: readonly number[], options: MaxPool2dOptions): Tensor {
  check4d('maxPool2dBackward', dy, 'gradient');
  indices.storage('maxPool2dBackward');
  if (indices.dtype !== 'int32' || indices.shape.join() !== dy.shape.join()) {
    throw new Error(`maxPool2dBackward: indices must be int32 of the gradient's shape ${fmt(dy.shape)}, got ${indices.dtype} ${fmt(indices.shape)}`);
  }
  checkInputShape('maxPool2dBackward', inputShape, dy);
  const g = geometry('maxPool2dBackward', inputShape, options);
  if (dy.shape[2] !== g.OH || dy.shape[3] !== g.OW)
    throw new Error(`maxPool2dBackward: gradient ${fmt(dy.shape)} does not match the pooled size ${g.OH}x${g.OW} of input ${fmt(inputShape)}`);
  const dx = Tensor.empty(inputShape, dy.dtype, 'maxPool2dBackward');
  if (dx.size === 0) return dx;
  // The scatter form accumulates in dx itself, so where windows overlap (ResNet's 3x3 stride 2) a
  // float16 dx rounds its partial sums: at most 4 there, 1.7e-4 relative in float16-ops.test.ts,
  // as PyTorch's half atomics do on CUDA. On lavapipe the gather form costs ~15x as much
  // ([8,64,112,112]: 128 ms against 8.8 ms), so CPU adapters scatter in either dtype.
  const gather = maxPoolBackwardForm === 'auto' ? !gpu().isCpuAdapter : maxPoolBackwardForm === 'gather';
  if (gather) {
    runKernel({
      name: 'maxPool2dBackward',
      body: maxPoolBackwardGatherWgsl(g, wg),
      inputs: { dy, indices },
      outputs: { dx },
      uniforms: { total: ['u32', dx.size] },
      workgroups: grid1d(dx.size, wg),
    });
  } else {
    runKernel({
      name: 'maxPool2dBackward',
      body: maxPoolBackwardScatterWgsl(wg),
      inputs: { dy, indices },
      outputs: { dx },
      uniforms: { planes: ['u32', g.N * g.C], hw: ['u32', g.H * g.W], ohw: ['u32', g.OH * g.OW] },
      workgroups: grid1d(g.N * g.C, wg),
    });
  }
  return dx;
}

/** 2-d average pooling over NCHW, with PyTorch's divisor rules (countIncludePad, ceilMode). */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor {
  check4d('avgPool2d', x);
  const g = geometry('avgPool2d', x.shape, options);
  const out = Tensor.empty([g.N, g.C, g.OH, g.OW], x.dtype, 'avgPool2d');
  runKernel({
    name: 'avgPool2d',
    body: avgPoolWgsl(g, options.countIncludePad ?? true, wg),
    inputs: { x },
    outputs: { out },
    uniforms: { total: ['u32', out.size] },
    workgroups: grid1d(out.size, wg),
  });
  return out;
}

export function avgPool2dBackward(dy: Tensor, inputShape: readonly number[], options: AvgPool2dOptions): Tensor {
  check4d('avgPool2dBackward', dy, 'gradient');
  checkInputShape('avgPool2dBackward', inputShape, dy);
  const g = geometry('avgPool2dBackward', inputShape, options);
  if (dy.shape[2] !== g.OH || dy.shape[3] !== g.OW)
    throw new Error(`avgPool2dBackward: gradient ${fmt(dy.shape)} does not match the pooled size ${g.OH}x${g.OW} of input ${fmt(inputShape)}`);
  const dx = Tensor.empty(inputShape, dy.dtype, 'avgPool2dBackward');
  runKernel({
    name: 'avgPool2dBackward',
    body: avgPoolBackwardWgsl(g, options.countIncludePad ?? true, wg),
    inputs: { dy },
    outputs: { dx },
    uniforms: { total: ['u32', dx.size] },
    workgroups: grid1d(dx.size, wg),
  });
  return dx;
}

function outSize(op: string, outputSize: IntPair): [number, number] {
  return intPair(op, 'outputSize', outputSize, 1);
}

/** Adaptive average pooling to [oh, ow] with PyTorch's bins (floor(i*H/oh) .. ceil((i+1)*H/oh)). */
export function adaptiveAvgPool2d(x: Tensor, outputSize: IntPair): Tensor {
  check4d('adaptiveAvgPool2d', x);
  const [OH, OW] = outSize('adaptiveAvgPool2d', outputSize);
  const [N, C, H, W] = x.shape;
  if (H === 0 || W === 0) throw new Error(`adaptiveAvgPool2d: empty spatial size in ${fmt(x.shape)}`);
  const out = Tensor.empty([N, C, OH, OW], x.dtype, 'adaptiveAvgPool2d');
  runKernel({
    name: 'adaptiveAvgPool2d',
    body: adaptiveAvgPoolWgsl(H, W, OH, OW, wg),
    inputs: { x },
    outputs: { out },
    uniforms: { total: ['u32', out.size] },
    workgroups: grid1d(out.size, wg),
  });
  return out;
}

export function adaptiveAvgPool2dBackward(dy: Tensor, inputShape: readonly number[]): Tensor {
  check4d('adaptiveAvgPool2dBackward', dy, 'gradient');
  checkInputShape('adaptiveAvgPool2dBackward', inputShape, dy);
  const [, , H, W] = inputShape;
  const [OH, OW] = dy.shape.slice(2);
  const dx = Tensor.empty(inputShape, dy.dtype, 'adaptiveAvgPool2dBackward');
  runKernel({
    name: 'adaptiveAvgPool2dBackward',
    body: adaptiveAvgPoolBackwardWgsl(H, W, OH, OW, wg),
    inputs: { dy },
    outputs: { dx },
    uniforms: { total: ['u32', dx.size] },
    workgroups: grid1d(dx.size, wg),
  });
  return dx;
}
