import { fmt } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, runKernel } from '../../kernel/run.ts';
import { ceGradStatsWgsl, ceGradWgsl, ceReduceWgsl, ceRowsWgsl, type CeLayout } from './crossentropy.wgsl.ts';

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  /** Class weights [C]. */
  weight?: Tensor | null;
  /** ε in [0, 1]: the target is (1−ε)·onehot + ε/C, as torch 1.13 (with weights as torch does). */
  labelSmoothing?: number;
  reduction?: Reduction;
  /** Rows with this label contribute nothing (default -100, as PyTorch). */
  ignoreIndex?: number;
}

const wg = 64;

function layout(op: string, logits: Tensor, labels: Tensor, o: CrossEntropyOptions): CeLayout {
  logits.storage(op);
  labels.storage(op);
  if (logits.rank !== 2 || logits.dtype === 'int32')
    throw new Error(`${op}: logits must be float32 or float16 [N,C], got ${logits.dtype} ${fmt(logits.shape)}`);
  const [N, C] = logits.shape;
  if (labels.dtype !== 'int32' || labels.rank !== 1 || labels.shape[0] !== N) {
    throw new Error(`${op}: labels must be int32 [${N}] for logits ${fmt(logits.shape)}, got ${labels.dtype} ${fmt(labels.shape)}`);
  }
  if (C === 0) throw new Error(`${op}: logits ${fmt(logits.shape)} have no classes`);
  if (o.weight) {
    o.weight.storage(op);
    if (o.weight.dtype === 'int32' || o.weight.rank !== 1 || o.weight.shape[0] !== C) {
      throw new Error(`${op}: weight must be float32 or float16 [${C}] for logits ${fmt(logits.shape)}, got ${o.weight.dtype} ${fmt(o.weight.shape)}`);
    }
  }
  const smoothing = o.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1)) throw new Error(`${op}: labelSmoothing must be in [0, 1], got ${smoothing}`);
  const ignoreIndex = o.ignoreIndex ?? -100;
  if (!Number.isInteger(ignoreIndex)) throw new Error(`${op}: ignoreIndex must be an integer, got ${ignoreIndex}`);
  const reduction = o.reduction ?? 'mean';
  if (!['mean', 'sum', 'none'].includes(reduction)) throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got ${reduction}`);
  return { N, C, weighted: !!o.weight, ignoreIndex, smoothing };
}

// Whatever the logits' dtype, the row statistics and the loss are float32 (as PyTorch autocast
// runs cross-entropy in float32): the kernels read float16 logits as f32.
function rows(op: string, l: CeLayout, logits: Tensor, labels: Tensor, weight: Tensor | null | undefined, withLoss: boolean) {
  const lse = Tensor.empty([l.N], 'float32', `${op}.lse`);
  const wy = Tensor.empty([l.N], 'float32', `${op}.wy`);
  const loss = withLoss ? Tensor.empty([l.N], 'float32', op) : null;
  const outputs: Record<string, Tensor> = { lse, wy };
  if (loss) outputs.loss = loss;
  runKernel({
    name: `${op}.rows`,
    body: ceRowsWgsl(l, wg, withLoss),
    inputs: weight ? { logits, labels, weight } : { logits, labels },
    outputs,
    uniforms: { N: ['u32', l.N] },
    workgroups: grid1d(l.N, wg),
  });
  return { lse, wy, loss };
}

/**
 * Fused, log-sum-exp-stable cross-entropy of logits [N,C] against int32 labels [N], as
 * `torch.nn.functional.cross_entropy` (1.13): class weights, label smoothing, ignoreIndex,
 * reduction 'mean' (divides by the summed weights of the targets), 'sum' or 'none' ([N]).
 */
export function crossEntropy(logits: Tensor, labels: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  const l = layout(op, logits, labels, options);
  const reduction = options.reduction ?? 'mean';
  const r = rows(op, l, logits, labels, options.weight, true);
  r.lse.dispose();
  if (reduction === 'none') {
    r.wy.dispose();
    return r.loss!;
  }
  const out = Tensor.empty([], 'float32', op);
  runKernel({
    name: `${op}.reduce`,
    body: ceReduceWgsl(reduction === 'mean'),
    inputs: { loss: r.loss!, wy: r.wy },
    outputs: { out },
    uniforms: { N: ['u32', l.N] },
    workgroups: [1, 1, 1],
  });
  r.loss!.dispose();
  r.wy.dispose();
  return out;
}

/**
 * Gradient of crossEntropy with respect to the logits. `gradOutput` is the incoming gradient:
 * a number or a one-element tensor for 'mean'/'sum', an [N] tensor (or a number) for 'none'.
 */
export function crossEntropyBackward(logits: Tensor, labels: Tensor, options: CrossEntropyOptions = {}, gradOutput: Tensor | number = 1): Tensor {
  const op = 'crossEntropyBackward';
  const l = layout(op, logits, labels, options);
  const reduction = options.reduction ?? 'mean';
  let grad: 'uniform' | 'scalar' | 'rows' = 'uniform';
  if (typeof gradOutput !== 'number') {
    gradOutput.storage(op);
    if (gradOutput.dtype === 'int32') throw new Error(`${op}: gradOutput must be float32 or float16, got ${gradOutput.dtype} ${fmt(gradOutput.shape)}`);
    if (gradOutput.size === 1 && (reduction !== 'none' || l.N === 1)) grad = 'scalar';
    else if (reduction === 'none' && gradOutput.rank === 1 && gradOutput.shape[0] === l.N) grad = 'rows';
    else throw new Error(`${op}: gradOutput ${fmt(gradOutput.shape)} does not fit reduction '${reduction}' of logits ${fmt(logits.shape)}`);
  }
  const r = rows(op, l, logits, labels, options.weight, false);
  const needStats = reduction === 'mean' || l.smoothing > 0;
  const stats = needStats ? Tensor.empty([2], 'float32', `${op}.stats`) : null;
  if (stats) {
    runKernel({
      name: `${op}.stats`,
      body: ceGradStatsWgsl(l),
      inputs: options.weight ? { wy: r.wy, weight: options.weight } : { wy: r.wy },
      outputs: { stats },
      uniforms: { N: ['u32', l.N] },
      workgroups: [1, 1, 1],
    });
  }
  // The logits' gradient has their dtype (float16 under autocast), computed in f32 and rounded on store.
  const dlogits = Tensor.empty(logits.shape, logits.dtype, op);
  const inputs: Record<string, Tensor> = { logits, labels, lse: r.lse, wy: r.wy };
  if (stats) inputs.stats = stats;
  if (options.weight && l.smoothing > 0) inputs.weight = options.weight;
  if (typeof gradOutput !== 'number') inputs.gradOutput = gradOutput;
  runKernel({
    name: op,
    body: ceGradWgsl(l, reduction, grad, 256),
    inputs,
    outputs: { dlogits },
    uniforms: typeof gradOutput === 'number' ? { g: ['f32', gradOutput], N: ['u32', l.N] } : { N: ['u32', l.N] },
    workgroups: grid1d(dlogits.size, 256),
  });
  for (const t of [r.lse, r.wy, stats]) t?.dispose();
  return dlogits;
}
