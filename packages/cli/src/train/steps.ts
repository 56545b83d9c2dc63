import * as T from '@cxr/tensor';
import {
  autocast,
  binaryCrossEntropyWithLogits,
  crossEntropy,
  detach,
  focalLoss,
  noGrad,
  withConstants,
  type GradScaler,
  type Module,
  type Optimizer,
} from '@cxr/nn';
import type { Batch, DataLoader } from '@cxr/data';
import type { Loss } from '../config/trainConfig.ts';
import { argmax } from '../metrics/classificationMetrics.ts';

/**
 * The training loss on logits [N, C] and integer labels. BCE and focal use one-hot targets.
 * `classWeight` [C] (--class-weights) weights cross-entropy only; validation takes the same weights so
 * --select-by val-loss ranks epochs by the objective being trained.
 */
export function lossOf(kind: Loss, logits: T.Tensor, labels: T.Tensor, classWeight: T.Tensor | null = null): T.Tensor {
  if (kind === 'ce') return crossEntropy(logits, labels, { weight: classWeight });
  // The one-hot targets go to the tape, which frees them with the graph (they leaked a tensor a step).
  const targets = T.oneHot(labels, logits.shape[1]);
  return withConstants([targets], () =>
    kind === 'bce' ? binaryCrossEntropyWithLogits(logits, targets) : focalLoss(logits, targets, { gamma: 2, alpha: 0.25 }),
  );
}

/**
 * A batch as the model's input and labels. A loader with `deferNormalize` hands over [0, 1] samples,
 * one channel when the images are grey: that is what crosses to the device (a third of the
 * bytes), and the device expands and normalises it.
 */
export function batchTensors(batch: Batch): { x: T.Tensor; y: T.Tensor } {
  const y = T.tensor(batch.labels, [batch.labels.length], 'int32');
  if (!batch.normalize) return { x: T.tensor(batch.images, batch.shape), y };
  const raw = T.tensor(batch.images, batch.shape);
  try {
    return { x: T.normalizeChannels(raw, batch.normalize.mean, batch.normalize.std), y };
  } finally {
    raw.dispose();
  }
}

export interface StepResult {
  loss: number;
  correct: number;
  count: number;
  /** Mixed precision: the loss scaler skipped the update (an Inf/NaN gradient). */
  skipped: boolean;
}

/**
 * One optimisation step; frees everything it allocated except what the optimizer keeps. With a
 * loss scaler the forward runs under float16 autocast and the scaled loss is what backward sees.
 */
export async function trainStep(
  model: Module,
  optimizer: Optimizer<{ lr: number }>,
  loss: Loss,
  batch: Batch,
  classWeight: T.Tensor | null = null,
  scaler: GradScaler | null = null,
): Promise<StepResult> {
  const { x, y } = batchTensors(batch);
  try {
    // Mixed precision: the forward under autocast; the losses take its float16 logits in float32.
    const logits = autocast(scaler ? 'float16' : null, () => model.forward(x));
    const kept = detach(logits);
    const l = lossOf(loss, logits, y, classWeight);
    let lossKept = l;
    let skipped = false;
    if (scaler) {
      const r = await scaler.backwardAndStep(l, optimizer);
      lossKept = r.loss;
      skipped = !r.stepped;
    } else {
      l.backward();
      optimizer.step();
    }
    optimizer.zeroGrad();
    const pred = T.argmax(kept, 1);
    const [lossValue, predicted] = await Promise.all([lossKept.item(), pred.toInt32Array()]);
    l.dispose();
    lossKept.dispose();
    kept.dispose();
    pred.dispose();
    // GPU adapters: time conv tile candidates for shapes this step ran first (a no-op afterwards
    // and on CPU adapters; choices are cached per adapter on disk).
    await T.autotuneConv();
    let correct = 0;
    predicted.forEach((p, i) => {
      if (p === batch.labels[i]) correct++;
    });
    return { loss: lossValue, correct, count: batch.labels.length, skipped };
  } finally {
    x.dispose();
    y.dispose();
  }
}

export interface Predictions {
  /** Class probabilities per image (softmax of the logits). */
  probs: Float32Array[];
  logits: Float32Array[];
  labels: number[];
  files: string[];
  loss: number;
}

/** Runs a model over a loader in eval mode, without recording gradients. */
export async function predictAll(
  model: Module,
  loader: DataLoader,
  loss: Loss,
  epoch: number,
  onBatch?: (done: number) => void,
  classWeight: T.Tensor | null = null,
): Promise<Predictions> {
  const out: Predictions = { probs: [], logits: [], labels: [], files: [], loss: 0 };
  let lossSum = 0;
  let done = 0;
  for await (const batch of loader.epoch(epoch)) {
    const { x, y } = batchTensors(batch);
    const [logits, probs, l] = noGrad(() =>
      T.scope(() => {
        const lg = model.forward(x);
        return [lg, T.softmax(lg, 1), lossOf(loss, lg, y, classWeight)];
      }),
    );
    const [hl, hp, lv] = await Promise.all([logits.toArray(), probs.toArray(), l.item()]);
    for (const t of [x, y, logits, probs, l]) t.dispose();
    const c = logits.shape[1];
    for (let i = 0; i < batch.labels.length; i++) {
      out.logits.push(hl.slice(i * c, (i + 1) * c));
      out.probs.push(hp.slice(i * c, (i + 1) * c));
      out.labels.push(batch.labels[i]);
      out.files.push(batch.files[i]);
    }
    lossSum += lv * batch.labels.length;
    done += batch.labels.length;
    onBatch?.(done);
  }
  out.loss = done ? lossSum / done : NaN;
  return out;
}

export function accuracyOf(p: Predictions): number {
  const correct = p.probs.filter((row, i) => argmax(row) === p.labels[i]).length;
  return p.labels.length ? correct / p.labels.length : NaN;
}
