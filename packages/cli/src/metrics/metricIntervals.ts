/**
 * Every headline metric of one split with its 95% interval, at a given operating point: Wilson
 * for the proportions, the stratified bootstrap (seed and resample count recorded) for F1 and AUC.
 * With two classes and a threshold, "positive" means p(positive) >= threshold; otherwise argmax.
 */
import { predictAt } from '@cxr/models';
import { bootstrapDefaults, bootstrapInterval, wilsonInterval, type BootstrapOptions, type Interval } from './intervals.ts';
import { rocAuc, rocAucOneVsRest } from './rocAuc.ts';

export interface Estimate {
  value: number | null;
  /** 95% interval; null when undefined (no samples in the denominator, a single class). */
  ci: Interval | null;
  /** For proportions: successes and trials. */
  k?: number;
  n?: number;
}

export interface MetricIntervals {
  method: { proportions: 'wilson'; f1: 'stratified-bootstrap-percentile'; auc: 'stratified-bootstrap-percentile'; resamples: number; seed: number };
  /** The decision threshold on p(positive) these were computed at; null = argmax. */
  threshold: number | null;
  positiveClass: string;
  accuracy: Estimate;
  sensitivity: Estimate;
  specificity: Estimate;
  ppv: Estimate;
  npv: Estimate;
  f1: Estimate;
  auc: Estimate;
}

export interface IntervalInput {
  probs: readonly ArrayLike<number>[];
  labels: ArrayLike<number>;
  classNames: readonly string[];
  /** Index of the positive class. */
  positive: number;
  /** Threshold on p(positive) (two classes only); null or absent: argmax. */
  threshold?: number | null;
}

// The decision at the operating point is the one a model file applies (@cxr/models' decision rule).
export { predictAt };

function proportion(k: number, n: number): Estimate {
  return { value: n === 0 ? null : k / n, ci: wilsonInterval(k, n), k, n };
}

function f1Of(labels: ArrayLike<number>, predicted: ArrayLike<number>, positive: number, idx?: Int32Array): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const n = idx ? idx.length : labels.length;
  for (let j = 0; j < n; j++) {
    const i = idx ? idx[j] : j;
    const a = labels[i] === positive;
    const p = predicted[i] === positive;
    if (a && p) tp++;
    else if (p) fp++;
    else if (a) fn++;
  }
  return 2 * tp + fp + fn === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/** AUC of the resampled rows (binary for two classes, one-vs-rest macro otherwise), as evaluatePredictions reports it. */
export function aucOf(input: IntervalInput, idx?: Int32Array): number | null {
  const rows = idx ? Array.from(idx, (i) => input.probs[i]) : input.probs;
  const labels = idx ? Array.from(idx, (i) => input.labels[i]) : Array.from(input.labels);
  if (input.classNames.length === 2)
    return rocAuc(
      rows.map((r) => r[input.positive]),
      labels.map((l) => l === input.positive),
    );
  return rocAucOneVsRest(rows, labels, input.classNames.length);
}

export function metricIntervals(input: IntervalInput, options: BootstrapOptions = {}): MetricIntervals {
  const { labels, positive } = input;
  const threshold = input.classNames.length === 2 ? (input.threshold ?? null) : null;
  const predicted = predictAt(input.probs, positive, threshold);
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const a = labels[i] === positive;
    const p = predicted[i] === positive;
    if (labels[i] === predicted[i]) correct++;
    if (a && p) tp++;
    else if (p) fp++;
    else if (a) fn++;
    else tn++;
  }
  const resamples = options.resamples ?? bootstrapDefaults.resamples;
  const seed = options.seed ?? bootstrapDefaults.seed;
  const boot = { resamples, seed };
  return {
    method: { proportions: 'wilson', f1: 'stratified-bootstrap-percentile', auc: 'stratified-bootstrap-percentile', resamples, seed },
    threshold,
    positiveClass: input.classNames[positive],
    accuracy: proportion(correct, labels.length),
    sensitivity: proportion(tp, tp + fn),
    specificity: proportion(tn, tn + fp),
    ppv: proportion(tp, tp + fp),
    npv: proportion(tn, tn + fn),
    f1: { value: f1Of(labels, predicted, positive), ci: bootstrapInterval(labels, (idx) => f1Of(labels, predicted, positive, idx), boot) },
    auc: { value: aucOf(input), ci: bootstrapInterval(labels, (idx) => aucOf(input, idx), boot) },
  };
}
