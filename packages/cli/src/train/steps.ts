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
import { oneInFlight } from './stepsInFlight.ts';

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

/** A training step whose work is recorded and submitted; its figures arrive with the readback. */
export interface SubmittedStep {
  /**
   * The step's loss and accuracy, once the device has run it. Already marked as handled, so
   * leaving it pending while the next step is recorded raises no unhandled rejection; whoever
   * awaits it gets the error.
   */
  readonly result: Promise<StepResult>;
}

/**
 * Records and submits one optimisation step, then returns without waiting for the device: the
 * loss and the predictions are being copied back, and every tensor the step allocated (except
 * what the optimizer keeps) is already freed, since the copies were queued before the frees and
 * the device runs in queue order. With a loss scaler the forward runs under float16 autocast,
 * the scaled loss is what backward sees, and the scaler's verdict (skip or step, the next scale)
 * is awaited here, before the next step can be recorded with the new scale.
 */
export async function submitTrainStep(
  model: Module,
  optimizer: Optimizer<{ lr: number }>,
  loss: Loss,
  batch: Batch,
  classWeight: T.Tensor | null = null,
  scaler: GradScaler | null = null,
): Promise<SubmittedStep> {
  const { x, y } = batchTensors(batch);
  const owned: T.Tensor[] = [x, y];
  try {
    // Mixed precision: the forward under autocast; the losses take its float16 logits in float32.
    const logits = autocast(scaler ? 'float16' : null, () => model.forward(x));
    const kept = detach(logits);
    owned.push(kept);
    const l = lossOf(loss, logits, y, classWeight);
    owned.push(l);
    let lossKept = l;
    let skipped = false;
    if (scaler) {
      const r = await scaler.backwardAndStep(l, optimizer);
      lossKept = r.loss;
      if (lossKept !== l) owned.push(lossKept);
      skipped = !r.stepped;
    } else {
      l.backward();
      optimizer.step();
    }
    optimizer.zeroGrad();
    const pred = T.argmax(kept, 1);
    owned.push(pred);
    // Both copies are queued here, synchronously, before the tensors are freed below; one wait.
    const reading = T.readTensors([lossKept, pred]);
    const result = reading.then(async ([lossValues, predicted]) => {
      // GPU adapters: time conv tile candidates for shapes this step ran first (a no-op afterwards
      // and on CPU adapters; choices are cached per adapter on disk).
      await T.autotuneConv();
      let correct = 0;
      predicted.forEach((p, i) => {
        if (p === batch.labels[i]) correct++;
      });
      return { loss: lossValues[0], correct, count: batch.labels.length, skipped };
    });
    result.catch(() => {});
    return { result };
  } finally {
    for (const t of owned) t.dispose();
  }
}

/** One optimisation step, waited for: `submitTrainStep` and its result. */
export async function trainStep(...args: Parameters<typeof submitTrainStep>): Promise<StepResult> {
  return (await submitTrainStep(...args)).result;
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
  // One batch in flight, as in training: batch k+1 is recorded while batch k's outputs are copied back.
  await oneInFlight(
    loader.epoch(epoch),
    async (batch) => {
      const { x, y } = batchTensors(batch);
      const [logits, probs, l] = noGrad(() =>
        T.scope(() => {
          const lg = model.forward(x);
          return [lg, T.softmax(lg, 1), lossOf(loss, lg, y, classWeight)];
        }),
      );
      // The copies are queued before the frees, and the device runs in queue order; one wait.
      const reading = T.readTensors([logits, probs, l]);
      const c = logits.shape[1];
      for (const t of [x, y, logits, probs, l]) t.dispose();
      return { result: reading.then(([hl, hp, lv]) => ({ hl: hl as Float32Array, hp: hp as Float32Array, lv: lv[0], c })) };
    },
    ({ hl, hp, lv, c }, batch) => {
      for (let i = 0; i < batch.labels.length; i++) {
        out.logits.push(hl.slice(i * c, (i + 1) * c));
        out.probs.push(hp.slice(i * c, (i + 1) * c));
        out.labels.push(batch.labels[i]);
        out.files.push(batch.files[i]);
      }
      lossSum += lv * batch.labels.length;
      done += batch.labels.length;
      onBatch?.(done);
    },
  );
  out.loss = done ? lossSum / done : NaN;
  return out;
}

export function accuracyOf(p: Predictions): number {
  const correct = p.probs.filter((row, i) => argmax(row) === p.labels[i]).length;
  return p.labels.length ? correct / p.labels.length : NaN;
}
