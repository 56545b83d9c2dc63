/**
 * Precision-recall curve and average precision (scikit-learn's definition: sum over thresholds of
 * (R_k - R_{k-1}) * P_k, a step function, not the optimistic trapezoid). Ties form one step.
 */
export interface PrPoint { threshold: number; recall: number; precision: number }

export function precisionRecallCurve(scores: ArrayLike<number>, isPositive: ArrayLike<boolean>): PrPoint[] | null {
  const n = scores.length;
  let positives = 0;
  for (let i = 0; i < n; i++) if (isPositive[i]) positives++;
  if (positives === 0) return null;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const points: PrPoint[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < n; ) {
    const threshold = scores[order[k]];
    while (k < n && scores[order[k]] === threshold) {
      if (isPositive[order[k]]) tp++;
      else fp++;
      k++;
    }
    points.push({ threshold, recall: tp / positives, precision: tp / (tp + fp) });
  }
  return points;
}

export function averagePrecision(points: readonly PrPoint[]): number {
  let ap = 0;
  let prev = 0;
  for (const p of points) { ap += (p.recall - prev) * p.precision; prev = p.recall; }
  return ap;
}
