import { fmt, normAxes, sizeOf, stridesOf, type Shape } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, runKernel } from '../../kernel/run.ts';
import { full } from '../creation/creation.ts';
import { argmax, argmin, sum, type Axes } from '../reduce/reduce.ts';
import { matmul, type MatmulOptions } from '../matmul/matmul.ts';
import { argBackwardWgsl, broadcastBackWgsl, indexSelectBackwardWgsl, softmaxBackwardWgsl } from './grad.wgsl.ts';

const wg = 256;

function same(op: string, a: Tensor, b: Tensor, an: string, bn: string): void {
  a.storage(op);
  b.storage(op);
  if (a.shape.join() !== b.shape.join()) throw new Error(`${op}: ${an} ${fmt(a.shape)} and ${bn} ${fmt(b.shape)} must have one shape`);
}

/**
 * Reduces a broadcast gradient back to an operand's shape: sums over the leading dims the operand
 * lacks and over the dims where it has size 1. Always returns a new tensor handle.
 */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  g.storage('sumToShape');
  const lead = g.rank - shape.length;
  const bad = () => new Error(`sumToShape: gradient ${fmt(g.shape)} does not broadcast from ${fmt(shape)}`);
  if (lead < 0) throw bad();
  const axes: number[] = [];
  for (let d = 0; d < lead; d++) axes.push(d);
  shape.forEach((n, d) => {
    const m = g.shape[lead + d];
    if (n === m) return;
    if (n !== 1) throw bad();
    axes.push(lead + d);
  });
  if (axes.length === 0) return g.view(shape);
  const s = sum(g, axes, false);
  try {
    return s.view(shape);
  } finally {
    s.dispose();
  }
}

function rowLayout(op: string, shape: Shape, axis: number) {
  if (shape.length === 0) throw new Error(`${op}: needs at least one dimension, got a scalar`);
  const [a] = normAxes(op, shape, axis);
  const len = shape[a];
  const inner = shape.slice(a + 1).reduce((p, d) => p * d, 1);
  return { a, len, inner, rows: len === 0 ? 0 : sizeOf(shape) / len };
}

function softmaxLikeBackward(op: string, dy: Tensor, y: Tensor, axis: number, log: boolean): Tensor {
  same(op, dy, y, 'gradient', 'output');
  const l = rowLayout(op, y.shape, axis);
  const dx = Tensor.empty(y.shape, y.dtype, op);
  if (dx.size === 0) return dx;
  runKernel({ name: op, body: softmaxBackwardWgsl(l.rows, l.len, l.inner, log, 64), inputs: { dy, y }, outputs: { dx }, workgroups: grid1d(l.rows, 64) });
  return dx;
}

/** From the forward OUTPUT y = softmax(x, axis): dx = y·(dy − Σ dy·y). */
export const softmaxBackward = (dy: Tensor, y: Tensor, axis = -1) => softmaxLikeBackward('softmaxBackward', dy, y, axis, false);
/** From the forward OUTPUT y = logSoftmax(x, axis): dx = dy − softmax·Σ dy. */
export const logSoftmaxBackward = (dy: Tensor, y: Tensor, axis = -1) => softmaxLikeBackward('logSoftmaxBackward', dy, y, axis, true);

function argBackward(op: string, pick: typeof argmax, dy: Tensor, x: Tensor, axis?: number): Tensor {
  x.storage(op);
  dy.storage(op);
  const l = axis === undefined ? { len: x.size, inner: 1, rows: 1 } : rowLayout(op, x.shape, axis);
  if (dy.size !== l.rows || dy.dtype === 'int32')
    throw new Error(`${op}: gradient ${dy.dtype} ${fmt(dy.shape)} does not match a reduction of ${fmt(x.shape)} over ${axis ?? 'all axes'}`);
  const idx = pick(x, axis);
  const dx = Tensor.empty(x.shape, x.dtype, op);
  try {
    if (dx.size > 0)
      runKernel({ name: op, body: argBackwardWgsl(x.size, l.len, l.inner, wg), inputs: { dy, idx }, outputs: { dx }, workgroups: grid1d(x.size, wg) });
  } finally {
    idx.dispose();
  }
  return dx;
}

/**
 * Gradient of `max(x, axis)` (or of the max over all elements): the whole gradient goes to the
 * FIRST maximum, as `torch.max(x, dim)` does. (torch's all-element `max()` splits it among ties.)
 * `dy` has the reduced shape, with or without kept dims.
 */
export const maxBackward = (dy: Tensor, x: Tensor, axis?: number) => argBackward('maxBackward', argmax, dy, x, axis);
/** Gradient of `min(x, axis)`: to the first minimum. */
export const minBackward = (dy: Tensor, x: Tensor, axis?: number) => argBackward('minBackward', argmin, dy, x, axis);

/**
 * Gradient of `indexSelect(x, axis, index)`: a scatter-add done as a gather (each input row loops
 * over the index list), so repeated indices accumulate deterministically without atomics.
 */
export function indexSelectBackward(dy: Tensor, axis: number, index: Tensor, inputShape: Shape): Tensor {
  const op = 'indexSelectBackward';
  dy.storage(op);
  index.storage(op);
  const l = rowLayout(op, inputShape, axis);
  const K = index.size;
  if (index.dtype !== 'int32' || index.rank > 1) throw new Error(`${op}: index must be int32 [K], got ${index.dtype} ${fmt(index.shape)}`);
  const expect = inputShape.map((d, i) => (i === l.a ? K : d));
  if (dy.shape.join() !== expect.join())
    throw new Error(`${op}: gradient ${fmt(dy.shape)} should be ${fmt(expect)} for input ${fmt(inputShape)} and ${K} indices on axis ${axis}`);
  if (K === 0) return full(inputShape, 0, dy.dtype);
  const dx = Tensor.empty(inputShape, dy.dtype, op);
  if (dx.size === 0) return dx;
  runKernel({
    name: op,
    body: indexSelectBackwardWgsl(dx.size, l.len, l.inner, K, wg),
    inputs: { dy, index },
    outputs: { dx },
    workgroups: grid1d(dx.size, wg),
  });
  return dx;
}

function broadcastBack(op: string, dy: Tensor, inputShape: Shape, axesArg: Axes, scaleOf: (n: number) => number): Tensor {
  dy.storage(op);
  const axes = normAxes(op, inputShape, axesArg);
  const kept = inputShape.filter((_, d) => !axes.includes(d));
  if (dy.size !== sizeOf(kept) || dy.dtype === 'int32')
    throw new Error(`${op}: gradient ${dy.dtype} ${fmt(dy.shape)} does not match a reduction of ${fmt(inputShape)} over ${JSON.stringify(axesArg ?? 'all')}`);
  const keptStrides = stridesOf(kept);
  let k = 0;
  const dyStrides = inputShape.map((_, d) => (axes.includes(d) ? 0 : keptStrides[k++]));
  const n = axes.reduce((p, a) => p * inputShape[a], 1);
  const dx = Tensor.empty(inputShape, dy.dtype, op);
  if (dx.size === 0) return dx;
  runKernel({
    name: op,
    body: broadcastBackWgsl([...inputShape], dyStrides, dx.size, wg),
    inputs: { dy },
    outputs: { dx },
    uniforms: { scale: ['f32', scaleOf(n)] },
    workgroups: grid1d(dx.size, wg),
  });
  return dx;
}

/** Gradient of `sum(x, axes)`: dy broadcast over the reduced axes (dy with or without kept dims). */
export const sumBackward = (dy: Tensor, inputShape: Shape, axes?: Axes) => broadcastBack('sumBackward', dy, inputShape, axes, () => 1);
/** Gradient of `mean(x, axes)`: dy / n broadcast over the reduced axes. */
export const meanBackward = (dy: Tensor, inputShape: Shape, axes?: Axes) => broadcastBack('meanBackward', dy, inputShape, axes, (n) => 1 / n);

/**
 * Gradient of `matmul(a, b, options)` with respect to `a`, in a's STORED layout (a transA operand
 * gets a [.., K, M] gradient); broadcast batch dims are summed back.
 */
export function matmulBackwardA(dy: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const tb = !!options.transB;
  // The gradient in a's own dtype (float16 for an activation meeting a float32 weight).
  const dtype = a.dtype;
  const da = options.transA
    ? tb
      ? matmul(b, dy, { transA: true, transB: true, dtype })
      : matmul(b, dy, { transB: true, dtype })
    : matmul(dy, b, { transB: !tb, dtype });
  return fitTo(da, a.shape);
}

/**
 * Gradient of `matmul(a, b, options)` with respect to `b`, in b's STORED layout (so a transB Linear
 * weight [out, in] gets a [out, in] gradient). A 2-d b shared by a batched a (a Linear over
 * [N, L, in]) is one matmul over the folded batch, not a batch of matmuls summed afterwards.
 */
export function matmulBackwardB(dy: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const ta = !!options.transA;
  const tb = !!options.transB;
  if (b.rank === 2 && a.rank > 2 && !ta) {
    const a2 = a.view([a.size / a.shape[a.rank - 1], a.shape[a.rank - 1]]);
    const dy2 = dy.view([dy.size / dy.shape[dy.rank - 1], dy.shape[dy.rank - 1]]);
    try {
      return matmulBackwardB(dy2, a2, b, options);
    } finally {
      a2.dispose();
      dy2.dispose();
    }
  }
  // The gradient in b's own dtype (float32 for a weight under autocast): no cast pass afterwards.
  const dtype = b.dtype;
  const db = ta
    ? tb
      ? matmul(dy, a, { transA: true, transB: true, dtype })
      : matmul(a, dy, { dtype })
    : tb
      ? matmul(dy, a, { transA: true, dtype })
      : matmul(a, dy, { transA: true, dtype });
  return fitTo(db, b.shape);
}

/** Both gradients of `matmul(a, b, options)` (see matmulBackwardA and matmulBackwardB). */
export function matmulBackward(dy: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): { da: Tensor; db: Tensor } {
  return { da: matmulBackwardA(dy, a, b, options), db: matmulBackwardB(dy, a, b, options) };
}

function fitTo(g: Tensor, shape: Shape): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const r = sumToShape(g, shape);
  g.dispose();
  return r;
}
