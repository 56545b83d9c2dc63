import * as T from '@cxr/tensor';
import { Tensor, type Operand, type Axes } from '@cxr/tensor';
import { defineOp } from './autograd/op.js';
import type { Ctx, Grads } from './autograd/tape.js';

/* ------------------------------------------------------------------ helpers */

const isT = (o: unknown): o is Tensor => o instanceof Tensor;

/** Sums a broadcast gradient back to `shape` (leading dims and dims that were 1). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let d = 0; d < g.rank; d++) if (d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1)) axes.push(d);
  if (axes.length === 0) return g.view(shape);
  const s = T.sum(g, axes, true);
  return s.view(shape);
}

/** Gradients for (up to) two operands that may be numbers: one lazy rule per operand. */
function operandGrads(ctx: Ctx<unknown[], unknown>, ops: [Operand, () => Tensor][]): Grads {
  const out: Grads = [];
  let k = 0;
  for (const [a, f] of ops) {
    if (!isT(a)) continue;
    out.push(ctx.needs[k] ? sumToShape(f(), a.shape) : null);
    k++;
  }
  return out;
}

const ew = (name: string, expr: string, ops: Operand[]) => T.elementwise(name, expr, ops, { allowNonFinite: true });

function normAxesOf(shape: readonly number[], axes: Axes): number[] {
  if (axes === undefined) return shape.map((_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  return list.map((a) => (a < 0 ? a + shape.length : a));
}

/** dy of a reduction over `axes` expanded back to `shape`, times `scale`. */
function unreduce(dy: Tensor, shape: readonly number[], axes: Axes, scale: number): Tensor {
  const ax = normAxesOf(shape, axes);
  const kept = shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const v = dy.view(kept);
  const e = scale === 1 ? T.expand(v, shape) : ew('unreduce', '$0 * $1', [T.expand(v, shape), scale]);
  return e;
}

/* ------------------------------------------------------------------ elementwise */

export const add = defineOp('add', {
  forward: (a: Operand, b: Operand) => T.add(a, b),
  backward: (ctx, dy) => operandGrads(ctx, [[ctx.args[0], () => dy], [ctx.args[1], () => dy]]),
});

export const sub = defineOp('sub', {
  forward: (a: Operand, b: Operand) => T.sub(a, b),
  backward: (ctx, dy) => operandGrads(ctx, [[ctx.args[0], () => dy], [ctx.args[1], () => T.neg(dy)]]),
});

export const mul = defineOp('mul', {
  forward: (a: Operand, b: Operand) => T.mul(a, b),
  backward: (ctx, dy) => operandGrads(ctx, [[ctx.args[0], () => T.mul(dy, ctx.args[1])], [ctx.args[1], () => T.mul(dy, ctx.args[0])]]),
});

export const div = defineOp('div', {
  forward: (a: Operand, b: Operand) => T.div(a, b),
  backward: (ctx, dy) => operandGrads(ctx, [
    [ctx.args[0], () => T.div(dy, ctx.args[1])],
    [ctx.args[1], () => ew('divBackwardB', '-$0 * $1 / $2', [dy, ctx.out, ctx.args[1]])],
  ]),
});

export const neg = defineOp('neg', { forward: (x: Tensor) => T.neg(x), backward: (_c, dy) => [T.neg(dy)] });
export const exp = defineOp('exp', { forward: (x: Tensor) => T.exp(x), backward: (c, dy) => [T.mul(dy, c.out)] });
export const log = defineOp('log', { forward: (x: Tensor) => T.log(x), backward: (c, dy) => [T.div(dy, c.args[0])] });
export const sqrt = defineOp('sqrt', { forward: (x: Tensor) => T.sqrt(x), backward: (c, dy) => [ew('sqrtBackward', '0.5 * $0 / $1', [dy, c.out])] });
export const rsqrt = defineOp('rsqrt', { forward: (x: Tensor) => T.rsqrt(x), backward: (c, dy) => [ew('rsqrtBackward', '-0.5 * $0 * $1 * $1 * $1', [dy, c.out])] });
export const relu = defineOp('relu', { forward: (x: Tensor) => T.relu(x), backward: (c, dy) => [ew('reluBackward', 'select(0.0, $0, $1 > 0.0)', [dy, c.out])] });
export const sigmoid = defineOp('sigmoid', { forward: (x: Tensor) => T.sigmoid(x), backward: (c, dy) => [ew('sigmoidBackward', '$0 * $1 * (1.0 - $1)', [dy, c.out])] });
export const tanh = defineOp('tanh', { forward: (x: Tensor) => T.tanh(x), backward: (c, dy) => [ew('tanhBackward', '$0 * (1.0 - $1 * $1)', [dy, c.out])] });
export const square = defineOp('square', { forward: (x: Tensor) => T.square(x), backward: (c, dy) => [ew('squareBackward', '2.0 * $0 * $1', [dy, c.args[0]])] });
export const abs = defineOp('abs', { forward: (x: Tensor) => T.abs(x), backward: (c, dy) => [ew('absBackward', '$0 * sign($1)', [dy, c.args[0]])] });

/** log(1 + exp(x)), stable for any x (forward and backward). */
export const softplus = defineOp('softplus', {
  forward: (x: Tensor) => ew('softplus', 'max($0, 0.0) + log(1.0 + exp(-abs($0)))', [x]),
  backward: (c, dy) => [ew('softplusBackward', '$0 * sigmoidf($1)', [dy, c.args[0]])],
});

/** x ** p for a constant exponent p (x ≥ 0 unless p is an integer). */
export const powScalar = defineOp('powScalar', {
  forward: (x: Tensor, p: number) => T.pow(x, p),
  backward: (c, dy) => [ew('powScalarBackward', 'select($0 * $2 * powf($1, $2 - 1.0), 0.0, $2 == 0.0)', [dy, c.args[0], c.args[1]])],
});

/** Clamps into [min, max]; the gradient passes where min ≤ x ≤ max (as PyTorch). */
export const clamp = defineOp('clamp', {
  forward: (x: Tensor, min: number, max: number) => T.clamp(x, min, max),
  backward: (c, dy) => [ew('clampBackward', 'select(0.0, $0, $1 >= $2 && $1 <= $3)', [dy, c.args[0], Math.max(c.args[1], -3.4e38), Math.min(c.args[2], 3.4e38)])],
});

/** `cond ? a : b` (cond is a constant mask). */
export const where = defineOp('where', {
  forward: (cond: Tensor, a: Operand, b: Operand) => T.where(cond, a, b),
  backward: (c, dy) => {
    const gs = operandGrads(c as Ctx<unknown[], unknown>, [[c.args[0], () => dy], [c.args[1], () => T.where(c.args[0], dy, 0)], [c.args[2], () => T.where(c.args[0], 0, dy)]]);
    gs[0] = null; // no gradient to the mask
    return gs;
  },
});

/* ------------------------------------------------------------------ matmul / linear */

export const matmul = defineOp('matmul', {
  forward: (a: Tensor, b: Tensor, options?: T.MatmulOptions) => T.matmul(a, b, options ?? {}),
  backward: (c, dy) => {
    const [a, b, o = {}] = c.args;
    const ta = !!o.transA;
    const tb = !!o.transB;
    const ga = () => {
      if (!ta && !tb) return T.matmul(dy, b, { transB: true });
      if (!ta && tb) return T.matmul(dy, b);
      if (ta && !tb) return T.matmul(b, dy, { transB: true });
      return T.matmul(b, dy, { transA: true, transB: true });
    };
    const gb = () => {
      if (!ta && !tb) return T.matmul(a, dy, { transA: true });
      if (!ta && tb) return T.matmul(dy, a, { transA: true });
      if (ta && !tb) return T.matmul(a, dy);
      return T.matmul(dy, a, { transA: true, transB: true });
    };
    return [c.needs[0] ? sumToShape(ga(), a.shape) : null, c.needs[1] ? sumToShape(gb(), b.shape) : null];
  },
});

/** y = x Wᵀ + b with W [out, in] (as torch.nn.functional.linear); x may have leading dims. */
export const linear = defineOp('linear', {
  forward: (x: Tensor, weight: Tensor, bias?: Tensor | null) => {
    if (x.shape[x.rank - 1] !== weight.shape[1]) throw new Error(`linear: input [${x.shape.join(',')}] does not match weight [${weight.shape.join(',')}]`);
    const y = T.matmul(x, weight, { transB: true });
    return bias ? T.add(y, bias) : y;
  },
  backward: (c, dy) => {
    const [x, w] = c.args;
    const out = w.shape[0];
    const inF = w.shape[1];
    const dy2 = dy.view([dy.size / out, out]);
    const x2 = x.view([x.size / inF, inF]);
    return [
      c.needs[0] ? T.matmul(dy, w) : null,
      c.needs[1] ? T.matmul(dy2, x2, { transA: true }) : null,
      c.inputs.length > 2 && c.needs[2] ? T.sum(dy2, 0) : null,
    ];
  },
});

/* ------------------------------------------------------------------ reductions */

export const sum = defineOp('sum', {
  forward: (x: Tensor, axes?: Axes, keepdim?: boolean) => T.sum(x, axes, keepdim ?? false),
  backward: (c, dy) => [unreduce(dy, c.args[0].shape, c.args[1], 1)],
});

export const mean = defineOp('mean', {
  forward: (x: Tensor, axes?: Axes, keepdim?: boolean) => T.mean(x, axes, keepdim ?? false),
  backward: (c, dy) => {
    const shape = c.args[0].shape;
    const n = normAxesOf(shape, c.args[1]).reduce((p, a) => p * shape[a], 1);
    return [unreduce(dy, shape, c.args[1], 1 / n)];
  },
});

export const softmax = defineOp('softmax', {
  forward: (x: Tensor, axis?: number) => T.softmax(x, axis ?? -1),
  backward: (c, dy) => {
    const y = c.out;
    const s = T.sum(T.mul(dy, y), c.args[1] ?? -1, true);
    return [ew('softmaxBackward', '$0 * ($1 - $2)', [y, dy, s])];
  },
});

export const logSoftmax = defineOp('logSoftmax', {
  forward: (x: Tensor, axis?: number) => T.logSoftmax(x, axis ?? -1),
  backward: (c, dy) => {
    const s = T.sum(dy, c.args[1] ?? -1, true);
    return [ew('logSoftmaxBackward', '$0 - exp($1) * $2', [dy, c.out, s])];
  },
});

/* ------------------------------------------------------------------ layout */

export const reshape = defineOp('reshape', {
  forward: (x: Tensor, shape: readonly number[]) => T.reshape(x, shape),
  backward: (c, dy) => [dy.view(c.args[0].shape)],
});

export const flatten = defineOp('flatten', {
  forward: (x: Tensor, startDim?: number, endDim?: number) => T.flatten(x, startDim ?? 0, endDim ?? -1),
  backward: (c, dy) => [dy.view(c.args[0].shape)],
});

export const permute = defineOp('permute', {
  forward: (x: Tensor, dims: readonly number[]) => T.permute(x, dims),
  backward: (c, dy) => {
    const d = c.args[1].map((a) => (a < 0 ? a + c.args[0].rank : a));
    const inv = new Array<number>(d.length);
    d.forEach((a, i) => { inv[a] = i; });
    return [T.permute(dy, inv)];
  },
});

export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const r = x.rank;
  const dims = x.shape.map((_, i) => i);
  const a = dim0 < 0 ? dim0 + r : dim0;
  const b = dim1 < 0 ? dim1 + r : dim1;
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

export const expand = defineOp('expand', {
  forward: (x: Tensor, shape: readonly number[]) => T.expand(x, shape),
  backward: (c, dy) => [sumToShape(dy, c.args[0].shape)],
});

/** Slices with step 1 only (the gradient pads back). */
export const slice = defineOp('slice', {
  forward: (x: Tensor, ranges: readonly (T.SliceRange | null | undefined)[]) => {
    if (ranges.some((r) => r && (r.step ?? 1) !== 1)) throw new Error(`slice: the differentiable slice supports step 1 only (shape [${x.shape.join(',')}])`);
    return T.slice(x, ranges);
  },
  backward: (c, dy) => {
    const x = c.args[0];
    const padding: number[] = [];
    for (let d = x.rank - 1; d >= 0; d--) {
      const n = x.shape[d];
      const r = c.args[1][d] ?? {};
      const norm = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
      const start = norm(r.start ?? 0);
      const len = dy.shape[d];
      padding.push(start, n - start - len);
    }
    return [T.pad(dy, padding)];
  },
});

export const concat = defineOp('concat', {
  forward: (xs: readonly Tensor[], axis?: number) => T.concat(xs, axis ?? 0),
  backward: (c, dy) => {
    const xs = c.args[0];
    const a = (c.args[1] ?? 0) < 0 ? (c.args[1] ?? 0) + dy.rank : (c.args[1] ?? 0);
    let off = 0;
    return xs.map((x, k) => {
      const r: T.SliceRange[] = dy.shape.map(() => ({}));
      r[a] = { start: off, end: off + x.shape[a] };
      off += x.shape[a];
      return c.needs[k] ? T.slice(dy, r) : null;
    });
  },
});

export const pad = defineOp('pad', {
  forward: (x: Tensor, padding: readonly number[], value?: number) => T.pad(x, padding, value ?? 0),
  backward: (c, dy) => {
    const x = c.args[0];
    const r: T.SliceRange[] = x.shape.map(() => ({}));
    const p = c.args[1];
    for (let k = 0; k < p.length / 2; k++) {
      const d = x.rank - 1 - k;
      r[d] = { start: p[2 * k], end: p[2 * k] + x.shape[d] };
    }
    return [T.slice(dy, r)];
  },
});

/* ------------------------------------------------------------------ CNN ops */

export const conv2d = defineOp('conv2d', {
  forward: (x: Tensor, weight: Tensor, bias?: Tensor | null, options?: T.Conv2dOptions) => T.conv2d(x, weight, bias ?? null, options ?? {}),
  backward: (c, dy) => {
    const [x, w, , o = {}] = c.args;
    return [
      c.needs[0] ? T.conv2dBackwardInput(dy, w, x.shape, o) : null,
      c.needs[1] ? T.conv2dBackwardWeight(dy, x, w.shape, o) : null,
      c.inputs.length > 2 && c.needs[2] ? T.conv2dBackwardBias(dy) : null,
    ];
  },
});

export const maxPool2d = defineOp('maxPool2d', {
  forward: (x: Tensor, options: T.MaxPool2dOptions) => {
    const { out, indices } = T.maxPool2d(x, options);
    return { out, saved: indices };
  },
  backward: (c, dy) => [T.maxPool2dBackward(dy, c.saved, c.args[0].shape)],
});

export const avgPool2d = defineOp('avgPool2d', {
  forward: (x: Tensor, options: T.AvgPool2dOptions) => T.avgPool2d(x, options),
  backward: (c, dy) => [T.avgPool2dBackward(dy, c.args[0].shape, c.args[1])],
});

export const adaptiveAvgPool2d = defineOp('adaptiveAvgPool2d', {
  forward: (x: Tensor, outputSize: T.IntPair) => T.adaptiveAvgPool2d(x, outputSize),
  backward: (c, dy) => [T.adaptiveAvgPool2dBackward(dy, c.args[0].shape)],
});

export interface BatchNormArgs {
  runningMean: Tensor;
  runningVar: Tensor;
  training: boolean;
  momentum?: number;
  eps?: number;
  /** relu(bn(x) [+ residual]) in the same pass (tensor's fused epilogue). */
  relu?: boolean;
}

/**
 * Batch norm over NCHW (or NC) input; in training mode it updates `runningMean`/`runningVar`
 * IN PLACE (as torch.nn.functional.batch_norm). With `residual` and `o.relu` it is
 * relu(batch_norm(x) + residual) in one pass, and the gradient rule folds the ReLU's mask into
 * the batch-norm backward; the residual's gradient is the masked dy.
 */
export const batchNorm = defineOp('batchNorm', {
  forward: (x: Tensor, weight: Tensor | null, bias: Tensor | null, o: BatchNormArgs, residual: Tensor | null = null) => {
    const r = T.batchNorm2d(x, { weight, bias, runningMean: o.runningMean, runningVar: o.runningVar, training: o.training, momentum: o.momentum, eps: o.eps, residual, relu: o.relu });
    return { out: r.out, saved: { saveMean: r.saveMean, saveInvstd: r.saveInvstd } };
  },
  backward: (c, dy) => {
    const [x, w, b, o, residual] = c.args;
    const reluOut = o.relu ? c.out : null;
    const r = T.batchNorm2dBackward(dy, x, w, c.saved.saveMean, c.saved.saveInvstd, { training: o.training, reluOut });
    const gs: Grads = [r.dx];
    if (w) gs.push(r.dweight); else r.dweight.dispose();
    if (b) gs.push(r.dbias); else r.dbias.dispose();
    if (residual) gs.push(c.needs[gs.length] ? (reluOut ? T.reluBackward(dy, reluOut) : dy) : null);
    return gs;
  },
});

/**
 * Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p);
 * the mask is drawn from `generator` (default: the seeded default generator).
 */
export const dropout = defineOp('dropout', {
  forward: (x: Tensor, p: number, generator?: T.Generator) => {
    const r = T.dropout(x, p, { generator });
    return { out: r.out, saved: r.mask };
  },
  backward: (c, dy) => [T.dropoutBackward(dy, c.saved, c.args[1])],
});

/* ------------------------------------------------------------------ selection */

/** Max over one axis (or all elements); the gradient goes to the first maximum (torch.max(x, dim)). */
export const max = defineOp('max', {
  forward: (x: Tensor, axis?: number, keepdim?: boolean) => T.max(x, axis, keepdim ?? false),
  backward: (c, dy) => [T.maxBackward(dy, c.args[0], c.args[1])],
});

/** Min over one axis (or all elements); the gradient goes to the first minimum. */
export const min = defineOp('min', {
  forward: (x: Tensor, axis?: number, keepdim?: boolean) => T.min(x, axis, keepdim ?? false),
  backward: (c, dy) => [T.minBackward(dy, c.args[0], c.args[1])],
});

/** Rows of x along `axis` picked by an int32 index (repeats accumulate in the gradient). */
export const indexSelect = defineOp('indexSelect', {
  forward: (x: Tensor, axis: number, index: Tensor) => T.indexSelect(x, axis, index),
  backward: (c, dy) => [T.indexSelectBackward(dy, c.args[1], c.args[2], c.args[0].shape), null],
});
