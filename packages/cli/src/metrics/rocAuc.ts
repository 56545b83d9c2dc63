/**
 * ROC curve and area under it. Scores that tie are grouped into a single threshold step, so the
 * curve moves diagonally across a tie block instead of in an order-dependent staircase; the
 * trapezoid over those points equals the Mann-Whitney probability P(s+ > s-) + 0.5 P(s+ = s-).
 */
import { thresholdSweep } from './thresholdSweep.ts';

export interface RocPoint {
  /** Predictions with score >= threshold are called positive. */
  threshold: number;
  fpr: number;
  tpr: number;
}

/**
 * ROC points from (0,0) to (1,1), one per distinct score (descending). Returns null when only one
 * class is present, because the curve (and AUC) is undefined then.
 */
export function rocCurve(scores: ArrayLike<number>, isPositive: ArrayLike<boolean>): RocPoint[] | null {
  const n = scores.length;
  if (isPositive.length !== n) throw new Error(`roc: ${n} scores but ${isPositive.length} labels`);
  let positives = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) throw new Error(`roc: score ${i} is NaN`);
    if (isPositive[i]) positives++;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;

  const points: RocPoint[] = [{ threshold: Infinity, fpr: 0, tpr: 0 }];
  for (const { threshold, tp, fp } of thresholdSweep(scores, isPositive)) points.push({ threshold, fpr: fp / negatives, tpr: tp / positives });
  return points;
}

/** Trapezoid area under a ROC curve. */
export function areaUnderCurve(points: readonly RocPoint[]): number {
  let area = 0;
  for (let i = 1; i < points.length; i++) {
    area += ((points[i].fpr - points[i - 1].fpr) * (points[i].tpr + points[i - 1].tpr)) / 2;
  }
  return area;
}

/** Binary ROC AUC; null when the labels hold a single class. */
export function rocAuc(scores: ArrayLike<number>, isPositive: ArrayLike<boolean>): number | null {
  const curve = rocCurve(scores, isPositive);
  return curve === null ? null : areaUnderCurve(curve);
}

/**
 * One-vs-rest macro AUC for multi-class problems (as scikit-learn's multi_class='ovr',
 * average='macro'): each class's probability column against "is this class". Classes absent from
 * the labels are skipped, since their AUC is undefined; null when no class qualifies.
 */
export function rocAucOneVsRest(probs: readonly ArrayLike<number>[], labels: ArrayLike<number>, numClasses: number): number | null {
  const aucs: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const scores = probs.map((row) => row[c]);
    const isPositive = Array.from(labels, (l) => l === c);
    const auc = rocAuc(scores, isPositive);
    if (auc !== null) aucs.push(auc);
  }
  return aucs.length === 0 ? null : aucs.reduce((a, b) => a + b, 0) / aucs.length;
}
