/**
 * The decision threshold on p(positive), chosen on validation and applied unchanged to test (so
 * the test numbers are not tuned on test). `youden` maximises sensitivity + specificity - 1 over
 * the validation ROC points; `sens:0.95` takes the highest threshold reaching that sensitivity
 * (the most specific one that does); a number is used as given.
 */
import { rocCurve } from './rocAuc.ts';

export type ThresholdSpec = { kind: 'youden' } | { kind: 'fixed'; value: number } | { kind: 'sensitivity'; target: number };

export function parseThresholdSpec(text: string): ThresholdSpec {
  const t = text.trim().toLowerCase();
  if (t === 'youden') return { kind: 'youden' };
  const sens = /^sens(?:itivity)?:(.+)$/.exec(t);
  if (sens) {
    const target = Number(sens[1]);
    if (!(target > 0 && target <= 1)) throw new Error(`--threshold ${text}: the sensitivity target must be in (0, 1], e.g. sens:0.95`);
    return { kind: 'sensitivity', target };
  }
  const value = Number(t);
  if (t !== '' && Number.isFinite(value) && value >= 0 && value <= 1) return { kind: 'fixed', value };
  throw new Error(`--threshold ${text}: use youden, a probability in [0, 1] such as 0.5, or sens:0.95`);
}

export function formatThresholdSpec(spec: ThresholdSpec): string {
  return spec.kind === 'youden' ? 'youden' : spec.kind === 'fixed' ? String(spec.value) : `sens:${spec.target}`;
}

export interface ChosenThreshold {
  spec: string;
  /** Predict positive when p(positive) >= value. */
  value: number;
  /** Where it was chosen (validation), with the sensitivity and specificity there. */
  chosenOn: string;
  sensitivity: number;
  specificity: number;
}

/**
 * Chooses the threshold from positive-class scores and truth. Ties on the criterion keep the
 * higher threshold. Falls back to 0.5 when the split holds a single class (no ROC curve).
 */
export function chooseThreshold(spec: ThresholdSpec, scores: ArrayLike<number>, isPositive: ArrayLike<boolean>, chosenOn = 'val'): ChosenThreshold {
  const curve = rocCurve(scores, isPositive);
  const at = (value: number) => {
    let tp = 0,
      fn = 0,
      tn = 0,
      fp = 0;
    for (let i = 0; i < scores.length; i++) {
      const p = scores[i] >= value;
      if (isPositive[i]) {
        if (p) tp++;
        else fn++;
      } else if (p) fp++;
      else tn++;
    }
    return { sensitivity: tp + fn ? tp / (tp + fn) : 0, specificity: tn + fp ? tn / (tn + fp) : 0 };
  };
  const done = (value: number): ChosenThreshold => ({ spec: formatThresholdSpec(spec), value, chosenOn, ...at(value) });
  if (spec.kind === 'fixed' || !curve) return done(spec.kind === 'fixed' ? spec.value : 0.5);
  const points = curve.filter((p) => Number.isFinite(p.threshold));
  if (spec.kind === 'youden') {
    // J = tp/P - fp/N compared as the integer tp*N - fp*P: as floats, two equal J (2/3 - 0 and
    // 1 - 1/3) differ in the last bit, and the tie rule would depend on the rounding.
    let positives = 0;
    for (let i = 0; i < isPositive.length; i++) if (isPositive[i]) positives++;
    const negatives = scores.length - positives;
    const j = (p: (typeof points)[number]) => Math.round(p.tpr * positives) * negatives - Math.round(p.fpr * negatives) * positives;
    let best = points[0];
    for (const p of points) if (j(p) > j(best)) best = p;
    return done(best.threshold);
  }
  // Points run from high to low threshold, so the first one reaching the target is the most specific.
  const hit = points.find((p) => p.tpr >= spec.target - 1e-12) ?? points[points.length - 1];
  return done(hit.threshold);
}
