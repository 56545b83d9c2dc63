import * as T from '@cxr/tensor';
import type { Tensor, BceWithLogitsOptions, CrossEntropyOptions, Reduction } from '@cxr/tensor';
import { defineOp } from './autograd/op.ts';
import * as F from './functional.ts';
import { withConstants } from './autograd/tape.ts';

function reduce(op: string, loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return F.sum(loss);
  if (reduction === 'mean') return F.mean(loss);
  throw new Error(`${op}: unknown reduction '${reduction as string}'`);
}

/** Losses are computed in float32 (torch autocast's float32 list): float16 logits are cast first, differentiably. */
function asFloat32(logits: Tensor): Tensor {
  return logits.dtype === 'float16' ? F.cast(logits, 'float32') : logits;
}

/** Fused kernels of @cxr/tensor, forward and backward (labels and options are constants). */
const crossEntropyOp = defineOp('crossEntropy', {
  forward: (logits: Tensor, labels: Tensor, options: CrossEntropyOptions) => T.crossEntropy(logits, labels, options),
  backward: (c, dy) => [c.needs[0] ? T.crossEntropyBackward(c.args[0], c.args[1], c.args[2], dy) : null, null],
});

/**
 * Cross-entropy of logits [N, C] against int32 class labels [N], as torch.nn.functional.cross_entropy
 * (log-sum-exp stable for logits of ±100). With class weights and mean reduction the sum is divided
 * by Σ weight[label_i]; label smoothing applies the class weights to the smooth term too.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, options: CrossEntropyOptions = {}): Tensor {
  return crossEntropyOp(asFloat32(logits), labels, { ...options });
}

const bceOp = defineOp('binaryCrossEntropyWithLogits', {
  forward: (logits: Tensor, targets: Tensor, options: BceWithLogitsOptions) => T.binaryCrossEntropyWithLogits(logits, targets, options),
  backward: (c, dy) => [c.needs[0] ? T.binaryCrossEntropyWithLogitsBackward(c.args[0], c.args[1], c.args[2], dy) : null, null],
});

/** As torch.nn.functional.binary_cross_entropy_with_logits (stable: (1-t)·x + lw·softplus(-x)). */
export function binaryCrossEntropyWithLogits(logits: Tensor, targets: Tensor, options: BceWithLogitsOptions = {}): Tensor {
  return bceOp(asFloat32(logits), targets, { ...options });
}

export interface FocalOptions {
  /** Focusing parameter γ (default 2). */
  gamma?: number;
  /** Weight of positives α in [0,1] (default 0.25); negative to disable. */
  alpha?: number;
  reduction?: Reduction;
}

/**
 * Sigmoid focal loss as torchvision.ops.sigmoid_focal_loss: BCE-with-logits · (1 - p_t)^γ · α_t,
 * with p_t = p·t + (1-p)·(1-t) and α_t = α·t + (1-α)·(1-t).
 */
export function focalLoss(input: Tensor, targets: Tensor, options: FocalOptions = {}): Tensor {
  const op = 'focalLoss';
  if (input.shape.join(',') !== targets.shape.join(','))
    throw new Error(`${op}: logits [${input.shape.join(',')}] and targets [${targets.shape.join(',')}] differ`);
  const logits = asFloat32(input);
  const gamma = options.gamma ?? 2;
  const alpha = options.alpha ?? 0.25;
  const { oneMinus2t, alphaT } = T.scope(() => ({
    oneMinus2t: T.sub(1, T.mul(targets, 2)),
    alphaT: T.add(T.mul(targets, alpha), T.mul(T.sub(1, targets), 1 - alpha)),
  }));
  return withConstants([oneMinus2t, alphaT], () => {
    const ce = bceOp(logits, targets, { reduction: 'none' });
    const p = F.sigmoid(logits);
    const oneMinusPt = F.add(F.mul(p, oneMinus2t), targets); // p + t - 2pt
    let loss = gamma === 0 ? ce : F.mul(ce, gamma === 2 ? F.square(oneMinusPt) : F.powScalar(oneMinusPt, gamma));
    if (alpha >= 0) loss = F.mul(loss, alphaT);
    return reduce(op, loss, options.reduction ?? 'mean');
  });
}
