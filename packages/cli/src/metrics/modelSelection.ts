/**
 * --select-by and --patience: which validation number picks the epoch kept as model.safetensors,
 * and when training stops early. Accuracy misleads on imbalanced data (3.6k COVID vs 10k normal:
 * predicting "normal" always scores 74%), hence validation loss by default.
 */
import type { SelectionMetric } from '../config/trainConfig.ts';

export interface ValidationNumbers {
  valLoss: number;
  valAccuracy: number;
  /** F1 of the positive class (macro F1 without one). */
  valF1: number;
  valAuc: number | null;
}

/** Larger is better for every metric (the loss is negated); NaN when undefined (e.g. AUC of one class). */
export function selectionScore(metric: SelectionMetric, v: ValidationNumbers): number {
  switch (metric) {
    case 'val-loss':
      return -v.valLoss;
    case 'val-accuracy':
      return v.valAccuracy;
    case 'val-f1':
      return v.valF1;
    case 'val-auc':
      return v.valAuc ?? NaN;
  }
}

/** Strictly better; the first finite score always counts, so a run keeps some epoch. */
export function isImprovement(score: number, best: number | null): boolean {
  if (!Number.isFinite(score)) return best === null;
  return best === null || !Number.isFinite(best) || score > best;
}

/** Early stop once `patience` epochs in a row have not improved (patience 0: never). */
export function shouldStopEarly(epoch: number, bestEpoch: number, patience: number): boolean {
  return patience > 0 && epoch - bestEpoch >= patience;
}
