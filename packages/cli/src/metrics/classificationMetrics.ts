/**
 * The study's evaluation numbers from per-class probabilities and true labels. Binary metrics
 * treat the positive class ('infected') against everything else, so they stay meaningful if a
 * dataset ever has more than two classes; macro metrics average the per-class values.
 * Zero divisions (e.g. precision with no positive predictions) give 0, as scikit-learn's default.
 */
import { argmax } from '@cxr/models';
import { findClassIndex, studyConfusion, type ConfusionMatrix } from './confusionMatrix.ts';
import { rocAuc, rocAucOneVsRest } from './rocAuc.ts';
import type { ClassificationIntervals } from './classificationIntervals.ts';

export interface Predictions {
  /** probs[i][c]: probability of class c for sample i (rows may be Float32Array). */
  probs: readonly ArrayLike<number>[];
  /** True class index per sample. */
  labels: ArrayLike<number>;
  /** Class names indexed like the probability columns. */
  classNames: readonly string[];
}

export interface EvaluateOptions {
  /** Name of the positive class, case-insensitive; default 'infected'. */
  positiveClass?: string;
}

export interface ClassMetrics {
  name: string;
  precision: number;
  recall: number;
  f1: number;
  /** Number of samples whose true class is this one. */
  support: number;
}

export interface ClassificationMetrics {
  n: number;
  classNames: string[];
  /** The class actually used as positive (falls back to the first class if the named one is absent). */
  positiveClass: string;
  accuracy: number;
  precision: number;
  recall: number;
  /** Same number as recall; named as in the medical literature. */
  sensitivity: number;
  specificity: number;
  f1: number;
  macroPrecision: number;
  macroRecall: number;
  macroF1: number;
  /** Binary AUC of the positive-class probability for 2 classes, one-vs-rest macro otherwise; null if undefined. */
  auc: number | null;
  aucMethod: 'binary' | 'ovr-macro';
  perClass: ClassMetrics[];
  /** Rows actual, columns predicted, positive class first. */
  confusion: ConfusionMatrix;
  /** 95% intervals (classificationIntervals); absent where not computed (per-epoch validation). */
  ci?: ClassificationIntervals;
}

/** Index of the largest value; the first one wins ties so results do not depend on float noise order. */
// The most probable class: one definition, with the decision rule in @cxr/models.
export { argmax };

/** Splits a flat [n * numClasses] buffer (as read back from the GPU) into per-sample rows without copying. */
export function rowsFromFlat(flat: Float32Array, numClasses: number): Float32Array[] {
  if (flat.length % numClasses !== 0) throw new Error(`rowsFromFlat: length ${flat.length} is not a multiple of ${numClasses}`);
  const rows: Float32Array[] = [];
  for (let i = 0; i < flat.length; i += numClasses) rows.push(flat.subarray(i, i + numClasses));
  return rows;
}

function safeDivide(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

function f1Score(precision: number, recall: number): number {
  return safeDivide(2 * precision * recall, precision + recall);
}

export function evaluatePredictions(predictions: Predictions, options: EvaluateOptions = {}): ClassificationMetrics {
  const { probs, labels, classNames } = predictions;
  const numClasses = classNames.length;
  const n = labels.length;
  if (probs.length !== n) throw new Error(`metrics: ${probs.length} probability rows but ${n} labels`);
  if (numClasses < 2) throw new Error(`metrics: need at least 2 classes, got ${numClasses}`);
  for (let i = 0; i < n; i++) {
    if (probs[i].length !== numClasses) throw new Error(`metrics: row ${i} has ${probs[i].length} probabilities for ${numClasses} classes`);
    if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= numClasses)
      throw new Error(`metrics: label ${labels[i]} of sample ${i} is not a class index 0..${numClasses - 1}`);
  }

  const named = findClassIndex(classNames, options.positiveClass ?? 'infected');
  const positive = Math.max(named, 0);
  const predicted = probs.map(argmax);

  // Per-class one-vs-rest counts give both the binary (positive class) and the macro numbers.
  const tp = new Array<number>(numClasses).fill(0);
  const predictedCount = new Array<number>(numClasses).fill(0);
  const support = new Array<number>(numClasses).fill(0);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const actual = labels[i];
    support[actual]++;
    predictedCount[predicted[i]]++;
    if (actual === predicted[i]) {
      tp[actual]++;
      correct++;
    }
  }
  const perClass: ClassMetrics[] = classNames.map((name, c) => {
    const precision = safeDivide(tp[c], predictedCount[c]);
    const recall = safeDivide(tp[c], support[c]);
    return { name, precision, recall, f1: f1Score(precision, recall), support: support[c] };
  });
  const mean = (pick: (m: ClassMetrics) => number) => perClass.reduce((s, m) => s + pick(m), 0) / numClasses;

  const p = perClass[positive];
  const falsePositives = predictedCount[positive] - tp[positive];
  const actualNegatives = n - support[positive];
  const trueNegatives = actualNegatives - falsePositives;

  const auc =
    numClasses === 2
      ? rocAuc(
          probs.map((row) => row[positive]),
          Array.from(labels, (l) => l === positive),
        )
      : rocAucOneVsRest(probs, labels, numClasses);

  return {
    n,
    classNames: [...classNames],
    positiveClass: classNames[positive],
    accuracy: safeDivide(correct, n),
    precision: p.precision,
    recall: p.recall,
    sensitivity: p.recall,
    specificity: safeDivide(trueNegatives, actualNegatives),
    f1: p.f1,
    macroPrecision: mean((m) => m.precision),
    macroRecall: mean((m) => m.recall),
    macroF1: mean((m) => m.f1),
    auc,
    aucMethod: numClasses === 2 ? 'binary' : 'ovr-macro',
    perClass,
    confusion: studyConfusion(labels, predicted, classNames, positive),
  };
}
