/**
 * Calibration: expected calibration error over equal-width confidence bins (Guo et al. 2017:
 * confidence = the top class's probability, 15 bins, |accuracy - confidence| weighted by bin
 * size), the reliability diagram's bins, and temperature scaling (one scalar T dividing the
 * logits, fitted on validation by minimising the negative log-likelihood; it never changes the
 * argmax, so accuracy stays the same while confidence becomes honest).
 */
import { applyTemperature } from '@cxr/models';
import { argmax } from './classificationMetrics.ts';

export const eceBins = 15;

export interface ReliabilityBin {
  low: number;
  high: number;
  count: number;
  confidence: number;
  accuracy: number;
}

export interface Calibration {
  ece: number;
  bins: ReliabilityBin[];
}

export function calibration(probs: readonly ArrayLike<number>[], labels: ArrayLike<number>, bins = eceBins): Calibration {
  const out: ReliabilityBin[] = Array.from({ length: bins }, (_, b) => ({ low: b / bins, high: (b + 1) / bins, count: 0, confidence: 0, accuracy: 0 }));
  for (let i = 0; i < probs.length; i++) {
    const c = argmax(probs[i]);
    const conf = probs[i][c];
    if (!Array.from(probs[i]).every(Number.isFinite))
      throw new Error(`calibration: image ${i} has a probability that is not a finite number (${Array.from(probs[i]).join(', ')})`);
    // Bins are (low, high], as in Guo et al.'s reference code; confidence 0 falls in the first.
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(conf * bins) - 1));
    out[b].count++;
    out[b].confidence += conf;
    out[b].accuracy += c === labels[i] ? 1 : 0;
  }
  let ece = 0;
  for (const b of out) {
    if (b.count === 0) continue;
    b.confidence /= b.count;
    b.accuracy /= b.count;
    ece += (b.count / probs.length) * Math.abs(b.accuracy - b.confidence);
  }
  return { ece, bins: out };
}

// Temperature scaling itself is part of the decision rule a model file stores (@cxr/models).
export { applyTemperature };

/** Mean negative log-likelihood of the labels. */
export function negativeLogLikelihood(probs: readonly ArrayLike<number>[], labels: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < probs.length; i++) s -= Math.log(Math.max(probs[i][labels[i]], 1e-12));
  return s / probs.length;
}

/**
 * The temperature minimising validation NLL. NLL is convex in 1/T, so a golden-section search
 * over log T in [1/20, 20] finds the minimum to ~1e-6 in log space.
 */
export function fitTemperature(probs: readonly ArrayLike<number>[], labels: ArrayLike<number>): number {
  if (probs.length === 0) throw new Error('fitTemperature: the validation split is empty');
  const f = (logT: number) => negativeLogLikelihood(applyTemperature(probs, Math.exp(logT)), labels);
  let a = Math.log(1 / 20);
  let b = Math.log(20);
  const g = (Math.sqrt(5) - 1) / 2;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > 1e-6) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  return Math.exp((a + b) / 2);
}
