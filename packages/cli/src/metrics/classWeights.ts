/**
 * --class-weights: cross-entropy weights per class. 'auto' is inverse frequency normalised so a
 * balanced set gets all ones (scikit-learn's "balanced": n / (classes · count)).
 */
export function classWeightsFor(spec: string, counts: readonly number[], classes: readonly string[]): number[] | null {
  if (spec === 'none') return null;
  if (spec === 'auto') {
    const n = counts.reduce((a, b) => a + b, 0);
    return counts.map((c, i) => {
      if (c === 0) throw new Error(`--class-weights auto: class '${classes[i]}' has no training images`);
      return n / (counts.length * c);
    });
  }
  const w = spec.split(',').map(Number);
  if (w.length !== classes.length)
    throw new Error(`--class-weights ${spec}: ${w.length} weights for ${classes.length} classes (${classes.join(', ')}); give one per class in that order`);
  return w;
}
