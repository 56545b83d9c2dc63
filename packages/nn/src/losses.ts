import * as T from '@cxr/tensor';
import { Tensor } from '@cxr/tensor';
import { defineOp } from './autograd/op.js';
import * as F from './functional.js';
import { withConstants } from './autograd/tape.js';

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(op: string, loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return F.sum(loss);
  if (reduction === 'mean') return F.mean(loss);
  throw new Error(`${op}: unknown reduction '${reduction as string}'`);
}

export interface CrossEntropyOptions {
  /** Class weights [C]. */
  weight?: Tensor | null;
  /** ε in [0, 1): the target is (1-ε)·onehot + ε/C. */
  labelSmoothing?: number;
  reduction?: Reduction;
}

/**
 * Cross-entropy of logits [N, C] against int32 class labels [N], as torch.nn.functional.cross_entropy
 * (log-softmax based: stable for logits of ±100). With class weights and mean reduction the sum is
 * divided by Σ weight[label_i]; label smoothing applies the class weights to the smooth term too.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  if (logits.rank !== 2) throw new Error(`${op}: logits must be [N, C], got [${logits.shape.join(',')}]`);
  const [N, C] = logits.shape;
  if (labels.rank !== 1 || labels.shape[0] !== N) throw new Error(`${op}: labels must be [${N}] for logits [${N},${C}], got [${labels.shape.join(',')}]`);
  if (labels.dtype !== 'int32') throw new Error(`${op}: labels must be int32, got ${labels.dtype}`);
  const eps = options.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps < 1)) throw new Error(`${op}: labelSmoothing must be in [0, 1), got ${eps}`);
  const w = options.weight ?? null;
  if (w && (w.rank !== 1 || w.shape[0] !== C)) throw new Error(`${op}: weight must be [${C}], got [${w.shape.join(',')}]`);
  const reduction = options.reduction ?? 'mean';
  // Constant target matrix Q = w[c]·((1-ε)·onehot + ε/C); loss_i = -Σ_c Q[i,c]·logp[i,c].
  const { Q, denom } = T.scope(() => {
    const oh = T.oneHot(labels, C);
    const q = w
      ? T.elementwise('crossEntropyTarget', '$1 * ($0 * $2 + $3)', [oh, w, 1 - eps, eps / C])
      : T.elementwise('crossEntropyTarget', '$0 * $1 + $2', [oh, 1 - eps, eps / C]);
    const d = w && reduction === 'mean' ? T.sum(T.mul(oh, w)) : null;
    return (d ? { Q: q, denom: d } : { Q: q }) as Record<string, Tensor>;
  }) as { Q: Tensor; denom?: Tensor };
  return withConstants(denom ? [Q, denom] : [Q], () => {
    const logp = F.logSoftmax(logits, 1);
    const perSample = F.sum(F.mul(logp, Q), 1);
    if (reduction === 'none') return F.neg(perSample);
    const total = F.sum(perSample);
    if (reduction === 'sum') return F.neg(total);
    return denom ? F.div(F.neg(total), denom) : F.mul(total, -1 / N);
  });
}

/** Elementwise BCE-with-logits with a per-element positive weight factor lw = 1 + (posWeight-1)·t. */
const bceElementwise = defineOp('binaryCrossEntropyWithLogits', {
  forward: (x: Tensor, t: Tensor, lw: Tensor | number) =>
    T.elementwise('bceWithLogits', '(1.0 - $1) * $0 + $2 * (max(-$0, 0.0) + log(1.0 + exp(-abs($0))))', [x, t, lw]),
  backward: (c, dy) => [
    c.needs[0] ? T.elementwise('bceWithLogitsBackward', '$0 * ((1.0 - $2) - $3 * sigmoidf(-$1))', [dy, c.args[0], c.args[1], c.args[2]]) : null,
    null,
    null,
  ],
});

export interface BceOptions {
  /** Weight of positive examples, broadcast over the last (class) dimension. */
  posWeight?: Tensor | null;
  reduction?: Reduction;
}

/** As torch.nn.functional.binary_cross_entropy_with_logits (stable: uses max(-x,0) + log1p(exp(-|x|))). */
export function binaryCrossEntropyWithLogits(logits: Tensor, targets: Tensor, options: BceOptions = {}): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  if (logits.shape.join(',') !== targets.shape.join(',')) throw new Error(`${op}: logits [${logits.shape.join(',')}] and targets [${targets.shape.join(',')}] differ`);
  const pw = options.posWeight ?? null;
  const lw = pw ? T.elementwise('bcePosWeight', '1.0 + ($1 - 1.0) * $0', [targets, pw]) : 1;
  return withConstants(lw instanceof Tensor ? [lw] : [], () => reduce(op, bceElementwise(logits, targets, lw), options.reduction ?? 'mean'));
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
export function focalLoss(logits: Tensor, targets: Tensor, options: FocalOptions = {}): Tensor {
  const op = 'focalLoss';
  if (logits.shape.join(',') !== targets.shape.join(',')) throw new Error(`${op}: logits [${logits.shape.join(',')}] and targets [${targets.shape.join(',')}] differ`);
  const gamma = options.gamma ?? 2;
  const alpha = options.alpha ?? 0.25;
  const { oneMinus2t, alphaT } = T.scope(() => ({
    oneMinus2t: T.elementwise('focalCoef', '1.0 - 2.0 * $0', [targets]),
    alphaT: T.elementwise('focalAlpha', '$1 * $0 + (1.0 - $1) * (1.0 - $0)', [targets, alpha]),
  }));
  return withConstants([oneMinus2t, alphaT], () => {
    const ce = bceElementwise(logits, targets, 1);
    const p = F.sigmoid(logits);
    const oneMinusPt = F.add(F.mul(p, oneMinus2t), targets); // p + t - 2pt
    let loss = gamma === 0 ? ce : F.mul(ce, gamma === 2 ? F.square(oneMinusPt) : F.powScalar(oneMinusPt, gamma));
    if (alpha >= 0) loss = F.mul(loss, alphaT);
    return reduce(op, loss, options.reduction ?? 'mean');
  });
}
