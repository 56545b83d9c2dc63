import { fmt, normAxes, type Shape } from '../../shape.ts';
import type { DType } from '../../dtype.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, runKernel } from '../../kernel/run.ts';
import { gpu } from '../../device/device.ts';
import { combiners, reduceLayout, reduceSerialWgsl, reduceWorkgroupWgsl } from './reduce.wgsl.ts';

export type Axes = number | readonly number[] | undefined;

const serialBelow = 64;

/**
 * Invocations wanted in flight for one reduction: when one workgroup per output gives fewer,
 * the reduced extent is cut into chunks (two passes). null = per adapter: 0 (never split) on a
 * CPU adapter, 65536 on a GPU.
 */
let splitTarget: number | null = null;

export function setReduceSplitTarget(target: number | null): void {
  splitTarget = target;
}

function splitChunks(outSize: number, count: number, wg: number): number {
  const target = splitTarget ?? (gpu().isCpuAdapter ? 0 : 65536);
  const want = Math.ceil(target / (outSize * wg));
  // Each chunk keeps at least 4 elements per lane; the grid stays within grid1d's reach.
  return Math.max(1, Math.min(want, Math.floor(count / (wg * 4)), Math.floor(2 ** 31 / outSize)));
}

function outShape(shape: Shape, axes: number[], keepdim: boolean): number[] {
  return keepdim ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/**
 * `dtype`: of a value result (arg reductions give int32); default x's. Every reduction
 * accumulates in f32 whatever x's dtype; only the result is rounded to it.
 */
function reduce(
  op: string,
  kind: keyof typeof combiners,
  x: Tensor,
  axesArg: Axes,
  keepdim: boolean,
  scale: number,
  center?: Tensor,
  dtype: DType = x.dtype,
): Tensor {
  x.storage(op);
  if (x.dtype === 'int32') throw new Error(`${op}: expects a float32 or float16 tensor, got ${x.dtype} ${fmt(x.shape)}`);
  const axes = normAxes(op, x.shape, axesArg);
  const l = reduceLayout(x.shape, axes);
  if (l.count === 0 && kind !== 'sum') throw new Error(`${op}: cannot reduce over an empty dimension of ${fmt(x.shape)}`);
  const c = combiners[kind];
  const serial = l.count < serialBelow;
  const wg = serial ? 64 : 128;
  const chunks = serial || c.withIndex ? 1 : splitChunks(l.outSize, l.count, wg);
  if (chunks > 1) {
    // Two passes (deterministic): raw partials [outSize, chunks], then their sum / max / min.
    // The partials stay float32 whatever x's dtype: only the final result is rounded.
    const part = Tensor.empty([l.outSize, chunks], 'float32', `${op}.partials`);
    runKernel({
      name: `${op}.partials`,
      body: reduceWorkgroupWgsl(l, c, wg, chunks),
      inputs: center ? { x, center } : { x },
      outputs: { out: part },
      workgroups: grid1d(l.outSize * chunks, 1),
    });
    try {
      const r = reduce(op, kind === 'sumsqdev' ? 'sum' : kind, part, 1, false, scale, undefined, dtype);
      const v = r.view(outShape(x.shape, axes, keepdim));
      r.dispose();
      return v;
    } finally {
      part.dispose();
    }
  }
  const out = Tensor.empty(outShape(x.shape, axes, keepdim), c.withIndex ? 'int32' : dtype, op);
  runKernel({
    name: op,
    body: serial ? reduceSerialWgsl(l, c, wg) : reduceWorkgroupWgsl(l, c, wg),
    inputs: center ? { x, center } : { x },
    outputs: { out },
    // Output and reduced sizes are uniforms: offsets never name the leading dimension's size, so
    // reducing [N, ...] over or along the batch shares one pipeline across batch sizes.
    uniforms: { scale: ['f32', scale], outSize: ['u32', l.outSize], count: ['u32', l.count] },
    workgroups: serial ? grid1d(l.outSize, wg) : grid1d(l.outSize, 1),
  });
  return out;
}

function countOf(x: Tensor, axes: Axes, op: string): number {
  return normAxes(op, x.shape, axes).reduce((n, a) => n * x.shape[a], 1);
}

export const sum = (x: Tensor, axes?: Axes, keepdim = false) => reduce('sum', 'sum', x, axes, keepdim, 1);
export const max = (x: Tensor, axes?: Axes, keepdim = false) => reduce('max', 'max', x, axes, keepdim, 1);
export const min = (x: Tensor, axes?: Axes, keepdim = false) => reduce('min', 'min', x, axes, keepdim, 1);

export function mean(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  const n = countOf(x, axes, 'mean');
  if (n === 0) throw new Error(`mean: cannot average over an empty dimension of ${fmt(x.shape)}`);
  return reduce('mean', 'sum', x, axes, keepdim, 1 / n);
}

/** Index of the largest value (first on ties) over one axis, or over all elements (flat index). */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor {
  return reduce('argmax', 'argmax', x, axis, keepdim, 1);
}

export function argmin(x: Tensor, axis?: number, keepdim = false): Tensor {
  return reduce('argmin', 'argmin', x, axis, keepdim, 1);
}

/**
 * Variance over `axes` (two passes: the mean, then the mean squared deviation, which stays
 * accurate when the mean is large). `unbiased` divides by n-1 as `torch.var` does by default.
 */
export function variance(x: Tensor, axes?: Axes, options: { keepdim?: boolean; unbiased?: boolean } = {}): Tensor {
  const n = countOf(x, axes, 'variance');
  const unbiased = options.unbiased ?? true;
  const denom = unbiased ? n - 1 : n;
  if (denom <= 0) throw new Error(`variance: needs more than ${unbiased ? 1 : 0} element(s) over the reduced axes of ${fmt(x.shape)}`);
  // The centre in float32 even for a float16 x: a rounded mean would bias the squared deviations.
  const m = reduce('mean', 'sum', x, axes, false, 1 / n, undefined, 'float32');
  try {
    return reduce('variance', 'sumsqdev', x, axes, options.keepdim ?? false, 1 / denom, m);
  } finally {
    m.dispose();
  }
}
