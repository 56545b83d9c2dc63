/**
 * Precision-recall curve and average precision (scikit-learn's definition: sum over thresholds of
 * (R_k - R_{k-1}) * P_k, a step function, not the optimistic trapezoid). Ties form one step.
 */
import { thresholdSweep } from './thresholdSweep.ts';

export interface PrPoint {
  threshold: number;
  recall: number;
  precision: number;
}

export function precisionRecallCurve(scores: ArrayLike<number>, isPositive: ArrayLike<boolean>): PrPoint[] | null {
  const n = scores.length;
  let positives = 0;
  for (let i = 0; i < n; i++) if (isPositive[i]) positives++;
  if (positives === 0) return null;
  return thresholdSweep(scores, isPositive).map(({ threshold, tp, fp }) => ({ threshold, recall: tp / positives, precision: tp / (tp + fp) }));
}

export function averagePrecision(points: readonly PrPoint[]): number {
  let ap = 0;
  let prev = 0;
  for (const p of points) {
    ap += (p.recall - prev) * p.precision;
    prev = p.recall;
  }
  return ap;
}
