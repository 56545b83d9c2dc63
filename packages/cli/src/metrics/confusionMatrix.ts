/**
 * Confusion matrix in the study's orientation: rows are the actual class, columns the predicted
 * class, and the positive class ('infected') comes first so the top-left cell is true positives.
 * Keeping the orientation in one place avoids transposed tables between report.md and metrics.json.
 */

export interface ConfusionMatrix {
  /** Class names in display order (positive class first). */
  labels: string[];
  /** matrix[actual][predicted], indices into `labels`. */
  matrix: number[][];
}

/** Counts matrix[actual][predicted] in class-index order (no reordering). */
export function countConfusion(actual: ArrayLike<number>, predicted: ArrayLike<number>, numClasses: number): number[][] {
  if (actual.length !== predicted.length) {
    throw new Error(`confusion matrix: ${actual.length} labels but ${predicted.length} predictions`);
  }
  const matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const p = predicted[i];
    if (!(a >= 0 && a < numClasses && p >= 0 && p < numClasses)) {
      throw new Error(`confusion matrix: class index out of range at row ${i} (actual ${a}, predicted ${p})`);
    }
    matrix[a][p]++;
  }
  return matrix;
}

/**
 * Index of the positive class, matched case-insensitively because dataset folders may be named
 * 'Infected' or 'infected'. Returns -1 when absent.
 */
export function findClassIndex(classNames: readonly string[], name: string): number {
  const wanted = name.toLowerCase();
  return classNames.findIndex((c) => c.toLowerCase() === wanted);
}

/** Display order: the positive class first, the others in their original order. */
export function studyClassOrder(classNames: readonly string[], positiveIndex: number): number[] {
  const order = classNames.map((_, i) => i).filter((i) => i !== positiveIndex);
  return positiveIndex >= 0 ? [positiveIndex, ...order] : order;
}

/** Confusion matrix reordered into the study's orientation (positive class first). */
export function studyConfusion(actual: ArrayLike<number>, predicted: ArrayLike<number>, classNames: readonly string[], positiveIndex: number): ConfusionMatrix {
  const raw = countConfusion(actual, predicted, classNames.length);
  const order = studyClassOrder(classNames, positiveIndex);
  return {
    labels: order.map((i) => classNames[i]),
    matrix: order.map((a) => order.map((p) => raw[a][p])),
  };
}
