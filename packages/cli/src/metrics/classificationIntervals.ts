/**
 * 95% intervals for the most-probable-class metrics of evaluatePredictions (metrics.json `splits`):
 * Wilson for the proportions (accuracy, precision = TP/(TP+FP), recall = TP/(TP+FN), specificity,
 * and the same per class), and one seeded stratified bootstrap pass for what is not a proportion
 * (F1, per-class F1, the macro averages, AUC), so every statistic sees the same resamples.
 */
import { argmax, type ClassificationMetrics, type Predictions } from './classificationMetrics.ts';
import { bootstrapDefaults, bootstrapIntervals, wilsonInterval, type BootstrapOptions, type Interval } from './intervals.ts';
import { aucOf } from './metricIntervals.ts';

export interface ClassIntervals {
  name: string;
  precision: Interval | null;
  recall: Interval | null;
  f1: Interval | null;
}

/** Each interval is null where undefined (an empty denominator, a single class in the labels). */
export interface ClassificationIntervals {
  method: {
    proportions: 'wilson';
    f1: 'stratified-bootstrap-percentile';
    macro: 'stratified-bootstrap-percentile';
    auc: 'stratified-bootstrap-percentile';
    resamples: number;
    seed: number;
  };
  accuracy: Interval | null;
  precision: Interval | null;
  recall: Interval | null;
  specificity: Interval | null;
  f1: Interval | null;
  macroPrecision: Interval | null;
  macroRecall: Interval | null;
  macroF1: Interval | null;
  auc: Interval | null;
  perClass: ClassIntervals[];
}

function safeDivide(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/** Per-class true positives, predicted counts and supports over `idx` (all samples if absent). */
function classCounts(labels: ArrayLike<number>, predicted: readonly number[], numClasses: number, idx?: Int32Array) {
  const tp = new Int32Array(numClasses);
  const predictedCount = new Int32Array(numClasses);
  const support = new Int32Array(numClasses);
  const n = idx ? idx.length : labels.length;
  for (let j = 0; j < n; j++) {
    const i = idx ? idx[j] : j;
    support[labels[i]]++;
    predictedCount[predicted[i]]++;
    if (labels[i] === predicted[i]) tp[labels[i]]++;
  }
  return { tp, predictedCount, support };
}

/** Intervals for `metrics` = evaluatePredictions(predictions); the positive class is taken from it. */
export function classificationIntervals(predictions: Predictions, metrics: ClassificationMetrics, options: BootstrapOptions = {}): ClassificationIntervals {
  const { probs, labels, classNames } = predictions;
  const k = classNames.length;
  const positive = Math.max(0, classNames.indexOf(metrics.positiveClass));
  const predicted = probs.map(argmax);
  const { tp, predictedCount, support } = classCounts(labels, predicted, k);
  const n = labels.length;
  const correct = tp.reduce((s, v) => s + v, 0);
  const falsePositives = predictedCount[positive] - tp[positive];
  const negatives = n - support[positive];

  // Bootstrap statistics, in this order: macro precision, recall, F1, AUC, then F1 of each class.
  const resamples = options.resamples ?? bootstrapDefaults.resamples;
  const seed = options.seed ?? bootstrapDefaults.seed;
  const aucInput = { probs, labels, classNames, positive };
  const boot = bootstrapIntervals(
    labels,
    (idx) => {
      const c = classCounts(labels, predicted, k, idx);
      let p = 0;
      let r = 0;
      let f = 0;
      const f1s: number[] = [];
      for (let j = 0; j < k; j++) {
        const pj = safeDivide(c.tp[j], c.predictedCount[j]);
        const rj = safeDivide(c.tp[j], c.support[j]);
        const fj = safeDivide(2 * pj * rj, pj + rj);
        p += pj;
        r += rj;
        f += fj;
        f1s.push(fj);
      }
      return [p / k, r / k, f / k, aucOf(aucInput, idx), ...f1s];
    },
    4 + k,
    { resamples, seed },
  );

  const perClass = classNames.map((name, j) => ({
    name,
    precision: wilsonInterval(tp[j], predictedCount[j]),
    recall: wilsonInterval(tp[j], support[j]),
    f1: boot[4 + j],
  }));
  return {
    method: {
      proportions: 'wilson',
      f1: 'stratified-bootstrap-percentile',
      macro: 'stratified-bootstrap-percentile',
      auc: 'stratified-bootstrap-percentile',
      resamples,
      seed,
    },
    accuracy: wilsonInterval(correct, n),
    precision: perClass[positive].precision,
    recall: perClass[positive].recall,
    specificity: wilsonInterval(negatives - falsePositives, negatives),
    f1: perClass[positive].f1,
    macroPrecision: boot[0],
    macroRecall: boot[1],
    macroF1: boot[2],
    auc: boot[3],
    perClass,
  };
}
