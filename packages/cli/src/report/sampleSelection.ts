/**
 * Which test images samples.png shows: per actual class, the most confident right predictions and
 * the most confident wrong ones (the mistakes worth looking at). Choosing by confidence rather than
 * at random keeps the picture identical between reruns of the same weights.
 */
import { argmax } from '../metrics/classificationMetrics.ts';
import { findClassIndex, studyClassOrder } from '../metrics/confusionMatrix.ts';

export interface SampleChoice {
  /** Index into the evaluated dataset. */
  index: number;
  actual: number;
  predicted: number;
  /** Probability the model gave its predicted class. */
  probability: number;
  correct: boolean;
}

export interface SampleRow {
  /** Actual class index. */
  classIndex: number;
  right: SampleChoice[];
  wrong: SampleChoice[];
}

export function selectSamples(
  probs: readonly ArrayLike<number>[],
  labels: ArrayLike<number>,
  classNames: readonly string[],
  options: { perKind?: number; positiveClass?: string; predicted?: ArrayLike<number> } = {},
): SampleRow[] {
  const perKind = options.perKind ?? 2;
  const choices: SampleChoice[] = probs.map((row, index) => {
    // The decision at a chosen threshold when given, else the argmax.
    const predicted = options.predicted ? options.predicted[index] : argmax(row);
    return { index, actual: labels[index], predicted, probability: row[predicted], correct: predicted === labels[index] };
  });
  // Most confident first; index breaks ties so the order is total and stable.
  const byConfidence = (a: SampleChoice, b: SampleChoice) => b.probability - a.probability || a.index - b.index;
  const order = studyClassOrder(classNames, findClassIndex(classNames, options.positiveClass ?? 'infected'));
  return order.map((classIndex) => {
    const mine = choices.filter((c) => c.actual === classIndex).sort(byConfidence);
    return {
      classIndex,
      right: mine.filter((c) => c.correct).slice(0, perKind),
      wrong: mine.filter((c) => !c.correct).slice(0, perKind),
    };
  });
}
