import { fmt } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { elementwise, type Operand } from '../elementwise/elementwise.ts';
import { mean, sum } from '../reduce/reduce.ts';
import type { Reduction } from './crossentropy.ts';

export interface BceWithLogitsOptions {
  /** Weight of the positive term, broadcast against the logits (usually [C]). */
  posWeight?: Tensor | null;
  reduction?: Reduction;
}

function check(op: string, logits: Tensor, targets: Tensor, o: BceWithLogitsOptions): Reduction {
  logits.storage(op);
  targets.storage(op);
  if (logits.dtype === 'int32' || targets.dtype === 'int32' || logits.shape.join() !== targets.shape.join()) {
    throw new Error(
      `${op}: logits and targets must be float (float32 or float16) of one shape, got ${logits.dtype} ${fmt(logits.shape)} and ${targets.dtype} ${fmt(targets.shape)}`,
    );
  }
  const reduction = o.reduction ?? 'mean';
  if (!['mean', 'sum', 'none'].includes(reduction)) throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got ${reduction}`);
  return reduction;
}

// max(-x, 0) + log(1 + e^-|x|) = softplus(-x), never overflowing. log1pUnit keeps the loss of a
// confident right answer (|x| > 17) from rounding to exactly 0 (see elementwise.wgsl.ts), and, as in
// torch, max(-x, 0) is added to (1 − t)·x before the small log term, so that x − x cancels exactly
// for t = 0 instead of swallowing it (x + (−x + 1.9e-8) is 0 in f32).
const logTerm = 'log1pUnit(exp(-abs($0)))';
const softplusNeg = `max(-$0, 0.0) + ${logTerm}`;
// σ(-x) computed from exp of a non-positive number only
const sigmoidNeg = 'select(1.0 / (1.0 + exp($0)), exp(-$0) / (1.0 + exp(-$0)), $0 >= 0.0)';

/**
 * Binary cross-entropy on logits, as `torch.nn.functional.binary_cross_entropy_with_logits`:
 * (1−t)·x + (1 + (pw−1)·t)·softplus(−x), stable for |x| ≥ 100.
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, targets: Tensor, options: BceWithLogitsOptions = {}): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  const reduction = check(op, logits, targets, options);
  const pw = options.posWeight;
  // The loss is float32 whatever the logits' dtype (autocast runs this loss in float32).
  const f32 = { dtype: 'float32' } as const;
  const per = pw
    ? elementwise(op, `(1.0 - $1) * $0 + (1.0 + ($2 - 1.0) * $1) * (${softplusNeg})`, [logits, targets, pw], f32)
    : elementwise(op, `(1.0 - $1) * $0 + max(-$0, 0.0) + ${logTerm}`, [logits, targets], f32);
  if (per.shape.join() !== logits.shape.join()) {
    per.dispose();
    throw new Error(`${op}: posWeight ${fmt(pw!.shape)} must broadcast to logits ${fmt(logits.shape)}`);
  }
  if (reduction === 'none') return per;
  try {
    return reduction === 'mean' ? mean(per) : sum(per);
  } finally {
    per.dispose();
  }
}

/** Gradient with respect to the logits: g·((1−t) − (1 + (pw−1)·t)·σ(−x)), divided by numel for 'mean'. */
export function binaryCrossEntropyWithLogitsBackward(
  logits: Tensor,
  targets: Tensor,
  options: BceWithLogitsOptions = {},
  gradOutput: Tensor | number = 1,
): Tensor {
  const op = 'binaryCrossEntropyWithLogitsBackward';
  const reduction = check(op, logits, targets, options);
  if (typeof gradOutput !== 'number') {
    gradOutput.storage(op);
    const ok = reduction === 'none' ? gradOutput.shape.join() === logits.shape.join() || gradOutput.size === 1 : gradOutput.size === 1;
    if (!ok) throw new Error(`${op}: gradOutput ${fmt(gradOutput.shape)} does not fit reduction '${reduction}' of logits ${fmt(logits.shape)}`);
  }
  const scale = reduction === 'mean' ? 1 / Math.max(1, logits.size) : 1;
  const g: Operand = typeof gradOutput === 'number' ? gradOutput * scale : gradOutput;
  const gs = typeof gradOutput === 'number' ? '$2' : `$2 * ${scale}`;
  const pw = options.posWeight;
  const lw = pw ? '(1.0 + ($3 - 1.0) * $1)' : '1.0';
  const expr = `((1.0 - $1) - ${lw} * ${sigmoidNeg}) * ${gs}`;
  // The logits' gradient has their dtype.
  const out = elementwise(op, expr, pw ? [logits, targets, g, pw] : [logits, targets, g], { dtype: logits.dtype });
  if (out.shape.join() !== logits.shape.join()) {
    out.dispose();
    throw new Error(`${op}: posWeight/gradOutput must broadcast to logits ${fmt(logits.shape)}`);
  }
  return out;
}
