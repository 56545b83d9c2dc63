/**
 * The walk that ROC and precision-recall curves share: scores in descending order, with every block
 * of tied scores taken as one threshold step, so a curve does not depend on how ties were sorted.
 */
export interface ThresholdStep {
  /** Predictions with score >= threshold are called positive. */
  threshold: number;
  /** True and false positives at this threshold. */
  tp: number;
  fp: number;
}

export function thresholdSweep(scores: ArrayLike<number>, isPositive: ArrayLike<boolean>): ThresholdStep[] {
  const n = scores.length;
  // NaN equals nothing, so its tie block would never end.
  for (let i = 0; i < n; i++) if (Number.isNaN(scores[i])) throw new Error(`score ${i} is NaN: curves need a number for every image`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const steps: ThresholdStep[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < n; ) {
    const threshold = scores[order[k]];
    while (k < n && scores[order[k]] === threshold) {
      if (isPositive[order[k]]) tp++;
      else fp++;
      k++;
    }
    steps.push({ threshold, tp, fp });
  }
  return steps;
}
