import * as T from '@cxr/tensor';
import { Tensor, type Operand, type Axes } from '@cxr/tensor';
import { defineOp } from './autograd/op.ts';
import type { Ctx, Grads } from './autograd/tape.ts';

/* ------------------------------------------------------------------ helpers */

/**
 * Per-argument gradient rules, run lazily: rule k runs only when the k-th argument is a tensor
 * that needs a gradient, and a gradient of a broadcast argument is summed back to its shape.
 * Number arguments (and options) take no slot, as the tape counts only tensors.
 */
function grads(c: Ctx<unknown[], unknown>, ...rules: ((() => Tensor) | null)[]): Grads {
  const out: Grads = [];
  c.args.forEach((a, k) => {
    if (!(a instanceof Tensor)) return;
    const rule = rules[k];
    const g = c.needs[out.length] && rule ? rule() : null;
    out.push(g && g.shape.join() !== a.shape.join() ? T.sumToShape(g, a.shape) : g);
  });
  return out;
}

/* ------------------------------------------------------------------ dtype */

/** x in another dtype (float32 <-> float16); the gradient comes back in x's dtype. */
export const cast = defineOp('cast', {
  forward: (x: Tensor, dtype: T.DType) => (x.dtype === dtype ? x : T.cast(x, dtype)),
  backward: (c, dy) => [dy.dtype === c.args[0].dtype ? dy : T.cast(dy, c.args[0].dtype)],
});

/* ------------------------------------------------------------------ elementwise */

export const add = defineOp('add', {
  forward: (a: Operand, b: Operand) => T.add(a, b),
  backward: (c, dy) =>
    grads(
      c,
      () => dy,
      () => dy,
    ),
});
export const sub = defineOp('sub', {
  forward: (a: Operand, b: Operand) => T.sub(a, b),
  backward: (c, dy) =>
    grads(
      c,
      () => dy,
      () => T.neg(dy),
    ),
});
export const mul = defineOp('mul', {
  forward: (a: Operand, b: Operand) => T.mul(a, b),
  backward: (c, dy) =>
    grads(
      c,
      () => T.mul(dy, c.args[1]),
      () => T.mul(dy, c.args[0]),
    ),
});
export const div = defineOp('div', {
  forward: (a: Operand, b: Operand) => T.div(a, b),
  backward: (c, dy) =>
    grads(
      c,
      () => T.div(dy, c.args[1]),
      () => T.divisorBackward(dy, c.out, c.args[1]),
    ),
});

export const neg = defineOp('neg', { forward: (x: Tensor) => T.neg(x), backward: (_c, dy) => [T.neg(dy)] });
export const exp = defineOp('exp', { forward: (x: Tensor) => T.exp(x), backward: (c, dy) => [T.mul(dy, c.out)] });
export const log = defineOp('log', { forward: (x: Tensor) => T.log(x), backward: (c, dy) => [T.div(dy, c.args[0])] });
export const sqrt = defineOp('sqrt', { forward: (x: Tensor) => T.sqrt(x), backward: (c, dy) => [T.sqrtBackward(dy, c.out)] });
export const rsqrt = defineOp('rsqrt', { forward: (x: Tensor) => T.rsqrt(x), backward: (c, dy) => [T.rsqrtBackward(dy, c.out)] });
export const relu = defineOp('relu', { forward: (x: Tensor) => T.relu(x), backward: (c, dy) => [T.reluBackward(dy, c.out)] });
export const sigmoid = defineOp('sigmoid', { forward: (x: Tensor) => T.sigmoid(x), backward: (c, dy) => [T.sigmoidBackward(dy, c.out)] });
export const tanh = defineOp('tanh', { forward: (x: Tensor) => T.tanh(x), backward: (c, dy) => [T.tanhBackward(dy, c.out)] });
export const square = defineOp('square', { forward: (x: Tensor) => T.square(x), backward: (c, dy) => [T.squareBackward(dy, c.args[0])] });
export const abs = defineOp('abs', { forward: (x: Tensor) => T.abs(x), backward: (c, dy) => [T.absBackward(dy, c.args[0])] });
/** log(1 + exp(x)), stable for any x (forward and backward). */
export const softplus = defineOp('softplus', { forward: (x: Tensor) => T.softplus(x), backward: (c, dy) => [T.softplusBackward(dy, c.args[0])] });

/** x ** p for a constant exponent p (x ≥ 0 unless p is an integer). */
export const powScalar = defineOp('powScalar', {
  forward: (x: Tensor, p: number) => T.pow(x, p),
  backward: (c, dy) => [T.powScalarBackward(dy, c.args[0], c.args[1])],
});

/** Clamps into [min, max]; the gradient passes where min ≤ x ≤ max (as PyTorch). */
export const clamp = defineOp('clamp', {
  forward: (x: Tensor, min: number, max: number) => T.clamp(x, min, max),
  backward: (c, dy) => [T.clampBackward(dy, ...c.args)],
});

/** `cond ? a : b` (cond is a constant mask: it gets no gradient). */
export const where = defineOp('where', {
  forward: (cond: Tensor, a: Operand, b: Operand) => T.where(cond, a, b),
  backward: (c, dy) =>
    grads(
      c,
      null,
      () => T.where(c.args[0], dy, 0),
      () => T.where(c.args[0], 0, dy),
    ),
});

/* ------------------------------------------------------------------ matmul / linear */

export const matmul = defineOp('matmul', {
  forward: (a: Tensor, b: Tensor, options?: T.MatmulOptions) => T.matmul(a, b, options ?? {}),
  backward: (c, dy) =>
    grads(
      c,
      () => T.matmulBackwardA(dy, ...c.args),
      () => T.matmulBackwardB(dy, ...c.args),
    ),
});

const transB = { transB: true } as const;

/** y = x Wᵀ + b with W [out, in] (as torch.nn.functional.linear); x may have leading dims. */
export const linear = defineOp('linear', {
  forward: (x: Tensor, weight: Tensor, bias?: Tensor | null) => {
    if (x.shape[x.rank - 1] !== weight.shape[1]) throw new Error(`linear: input [${x.shape.join(',')}] does not match weight [${weight.shape.join(',')}]`);
    // The product in x's dtype: a float16 activation (autocast) with its float32 weight stays float16.
    const y = T.matmul(x, weight, { transB: true, dtype: x.dtype });
    return bias ? T.add(y, bias) : y;
  },
  // The bias gradient is dy summed over the leading dims, which `grads` does for a broadcast operand.
  backward: (c, dy) =>
    grads(
      c,
      () => T.matmulBackwardA(dy, c.args[0], c.args[1], transB),
      () => T.matmulBackwardB(dy, c.args[0], c.args[1], transB),
      () => dy,
    ),
});

/* ------------------------------------------------------------------ reductions */

export const sum = defineOp('sum', {
  forward: (x: Tensor, axes?: Axes, keepdim?: boolean) => T.sum(x, axes, keepdim ?? false),
  backward: (c, dy) => [T.sumBackward(dy, c.args[0].shape, c.args[1])],
});

export const mean = defineOp('mean', {
  forward: (x: Tensor, axes?: Axes, keepdim?: boolean) => T.mean(x, axes, keepdim ?? false),
  backward: (c, dy) => [T.meanBackward(dy, c.args[0].shape, c.args[1])],
});

export const softmax = defineOp('softmax', {
  forward: (x: Tensor, axis?: number) => T.softmax(x, axis ?? -1),
  backward: (c, dy) => [T.softmaxBackward(dy, c.out, c.args[1] ?? -1)],
});

export const logSoftmax = defineOp('logSoftmax', {
  forward: (x: Tensor, axis?: number) => T.logSoftmax(x, axis ?? -1),
  backward: (c, dy) => [T.logSoftmaxBackward(dy, c.out, c.args[1] ?? -1)],
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
  backward: (c, dy) => [T.permuteBackward(dy, c.args[1])],
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
  backward: (c, dy) => grads(c, () => dy),
});

/** Slices with step 1 only (the gradient pads back). */
export const slice = defineOp('slice', {
  forward: (x: Tensor, ranges: readonly (T.SliceRange | null | undefined)[]) => {
    if (ranges.some((r) => r && (r.step ?? 1) !== 1)) throw new Error(`slice: the differentiable slice supports step 1 only (shape [${x.shape.join(',')}])`);
    return T.slice(x, ranges);
  },
  backward: (c, dy) => [T.sliceBackward(dy, c.args[0].shape, c.args[1])],
});

export const concat = defineOp('concat', {
  forward: (xs: readonly Tensor[], axis?: number) => T.concat(xs, axis ?? 0),
  backward: (c, dy) =>
    T.concatBackward(
      dy,
      c.args[0].map((x) => x.shape),
      c.args[1] ?? 0,
      c.needs,
    ),
});

export const pad = defineOp('pad', {
  forward: (x: Tensor, padding: readonly number[], value?: number) => T.pad(x, padding, value ?? 0),
  backward: (c, dy) => [T.padBackward(dy, c.args[0].shape, c.args[1])],
});

/* ------------------------------------------------------------------ CNN ops */

function conv2dGrads(c: Ctx<[Tensor, Tensor, (Tensor | null)?, T.Conv2dOptions?], undefined>, dy: Tensor): Grads {
  const [x, w, , o = {}] = c.args;
  return grads(
    c as Ctx<unknown[], unknown>,
    () => T.conv2dBackwardInput(dy, w, x.shape, o),
    // In the weight's dtype: float32 under autocast, where float16 activations meet the float32 weight.
    () => T.conv2dBackwardWeight(dy, x, w.shape, o, w.dtype),
    () => T.conv2dBackwardBias(dy),
  );
}

export const conv2d = defineOp('conv2d', {
  forward: (x: Tensor, weight: Tensor, bias?: Tensor | null, options?: T.Conv2dOptions) => T.conv2d(x, weight, bias ?? null, options ?? {}),
  backward: (c, dy) => conv2dGrads(c, dy),
});

/**
 * relu(conv2d(x)) as one op (VGG's conv + ReLU pairs): the convolution's own output is a
 * temporary of the forward, freed when the op returns, where the two ops kept both activations
 * until backward (VGG16 at 224 px, batch 8: 434 MB). The gradient rule needs only the output.
 */
export const conv2dRelu = defineOp('conv2dRelu', {
  forward: (x: Tensor, weight: Tensor, bias?: Tensor | null, options?: T.Conv2dOptions) => T.relu(T.conv2d(x, weight, bias ?? null, options ?? {})),
  backward: (c, dy) => conv2dGrads(c, T.reluBackward(dy, c.out)),
});

export const maxPool2d = defineOp('maxPool2d', {
  forward: (x: Tensor, options: T.MaxPool2dOptions) => {
    const { out, indices } = T.maxPool2d(x, options);
    return { out, saved: indices };
  },
  backward: (c, dy) => [T.maxPool2dBackward(dy, c.saved, c.args[0].shape, c.args[1])],
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
  /** The module's `num_batches_tracked`, incremented in place by the training statistics pass. */
  numBatchesTracked?: Tensor | null;
}

/**
 * Batch norm over NCHW (or NC) input; in training mode it updates `runningMean`/`runningVar`
 * IN PLACE (as torch.nn.functional.batch_norm). With `residual` and `o.relu` it is
 * relu(batch_norm(x) + residual) in one pass, and the gradient rule folds the ReLU's mask into
 * the batch-norm backward; the residual's gradient is the masked dy.
 */
export const batchNorm = defineOp('batchNorm', {
  forward: (x: Tensor, weight: Tensor | null, bias: Tensor | null, o: BatchNormArgs, residual: Tensor | null = null) => {
    const r = T.batchNorm2d(x, {
      weight,
      bias,
      runningMean: o.runningMean,
      runningVar: o.runningVar,
      training: o.training,
      momentum: o.momentum,
      eps: o.eps,
      residual,
      relu: o.relu,
      numBatchesTracked: o.numBatchesTracked,
    });
    return { out: r.out, saved: { saveMean: r.saveMean, saveInvstd: r.saveInvstd } };
  },
  // One fused kernel gives all three gradients (the backward's scope frees those not needed).
  backward: (c, dy) => {
    const [x, w, , o] = c.args;
    const reluOut = o.relu ? c.out : null;
    const r = T.batchNorm2dBackward(dy, x, w, c.saved.saveMean, c.saved.saveInvstd, { training: o.training, reluOut });
    return grads(
      c,
      () => r.dx,
      () => r.dweight,
      () => r.dbias,
      null,
      () => (reluOut ? T.reluBackward(dy, reluOut) : dy),
    );
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
