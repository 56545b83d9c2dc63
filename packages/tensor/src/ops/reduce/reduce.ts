import { fmt, normAxes, type Shape } from '../../shape.js';
import { Tensor } from '../../tensor.js';
import { grid1d, runKernel } from '../../kernel/run.js';
import { combiners, reduceLayout, reduceSerialWgsl, reduceWorkgroupWgsl } from './reduce.wgsl.js';

export type Axes = number | readonly number[] | undefined;

const serialBelow = 64;

function outShape(shape: Shape, axes: number[], keepdim: boolean): number[] {
  return keepdim ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

function reduce(op: string, kind: keyof typeof combiners, x: Tensor, axesArg: Axes, keepdim: boolean, scale: number, center?: Tensor): Tensor {
  x.storage(op);
  if (x.dtype !== 'float32') throw new Error(`${op}: expects a float32 tensor, got ${x.dtype} ${fmt(x.shape)}`);
  const axes = normAxes(op, x.shape, axesArg);
  const l = reduceLayout(x.shape, axes);
  if (l.count === 0 && kind !== 'sum') throw new Error(`${op}: cannot reduce over an empty dimension of ${fmt(x.shape)}`);
  const c = combiners[kind];
  const out = Tensor.empty(outShape(x.shape, axes, keepdim), c.withIndex ? 'int32' : 'float32', op);
  const serial = l.count < serialBelow;
  const wg = serial ? 64 : 128;
  runKernel({
    name: op,
    body: serial ? reduceSerialWgsl(l, c, wg) : reduceWorkgroupWgsl(l, c, wg),
    inputs: center ? { x, center } : { x },
    outputs: { out },
    uniforms: { scale: ['f32', scale] },
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
  const m = mean(x, axes, false);
  try {
    return reduce('variance', 'sumsqdev', x, axes, options.keepdim ?? false, 1 / denom, m);
  } finally {
    m.dispose();
  }
}
