/**
 * Two runs on the same test set: the difference in accuracy and AUC (B - A) with a paired
 * bootstrap interval (95% unless asked otherwise). Both runs are resampled with the SAME indices (stratified by the true
 * class), so the per-image correlation between the models is kept, which is what makes a paired
 * comparison far tighter than two independent intervals.
 */
import { argmax } from './classificationMetrics.ts';
import { bootstrapDefaults, quantileSorted, stratifiedResamples, type BootstrapOptions, type Interval } from './intervals.ts';
import { rocAuc } from './rocAuc.ts';

export interface RunScores {
  /** Per image key (file path), class probabilities; matched between runs by key. */
  probs: Map<string, ArrayLike<number>>;
  labels: Map<string, number>;
  positive: number;
}

export interface PairedDifference {
  images: number;
  accuracy: { a: number; b: number; difference: number; ci: Interval };
  auc: { a: number; b: number; difference: number; ci: Interval } | null;
  resamples: number;
  seed: number;
  /** Coverage of the intervals. */
  level: number;
}

/** `level`: the intervals' coverage (default 0.95; lower a family's error rate by asking for more). */
export function pairedBootstrap(a: RunScores, b: RunScores, options: BootstrapOptions & { level?: number } = {}): PairedDifference {
  const level = options.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new Error(`paired bootstrap: level ${level} is not between 0 and 1`);
  const keys = [...a.probs.keys()].filter((k) => b.probs.has(k)).sort();
  if (keys.length === 0) throw new Error('paired bootstrap: the two runs share no test images');
  for (const k of keys)
    if (a.labels.get(k) !== b.labels.get(k))
      throw new Error(`paired bootstrap: ${k} has label ${a.labels.get(k)} in one run and ${b.labels.get(k)} in the other`);
  const labels = keys.map((k) => a.labels.get(k)!);
  const correctA = keys.map((k, i) => (argmax(a.probs.get(k)!) === labels[i] ? 1 : 0));
  const correctB = keys.map((k, i) => (argmax(b.probs.get(k)!) === labels[i] ? 1 : 0));
  const binary = a.probs.get(keys[0])!.length === 2;
  const sA = keys.map((k) => a.probs.get(k)![a.positive]);
  const sB = keys.map((k) => b.probs.get(k)![b.positive]);
  const pos = labels.map((l) => l === a.positive);
  const acc = (c: number[], idx?: Int32Array) => (idx ? Array.from(idx, (i) => c[i]) : c).reduce((s, v) => s + v, 0) / (idx ? idx.length : c.length);
  const auc = (s: number[], idx?: Int32Array) =>
    idx
      ? rocAuc(
          Array.from(idx, (i) => s[i]),
          Array.from(idx, (i) => pos[i]),
        )
      : rocAuc(s, pos);
  const resamples = options.resamples ?? bootstrapDefaults.resamples;
  const seed = options.seed ?? bootstrapDefaults.seed;
  const dAcc: number[] = [];
  const dAuc: number[] = [];
  const aucA = binary ? auc(sA) : null;
  const aucB = binary ? auc(sB) : null;
  for (const idx of stratifiedResamples(labels, { resamples, seed })) {
    dAcc.push(acc(correctB, idx) - acc(correctA, idx));
    if (aucA !== null && aucB !== null) {
      const x = auc(sA, idx);
      const y = auc(sB, idx);
      if (x !== null && y !== null) dAuc.push(y - x);
    }
  }
  const ci = (v: number[]): Interval => {
    v.sort((p, q) => p - q);
    return { low: quantileSorted(v, (1 - level) / 2), high: quantileSorted(v, (1 + level) / 2) };
  };
  const accA = acc(correctA);
  const accB = acc(correctB);
  return {
    images: keys.length,
    accuracy: { a: accA, b: accB, difference: accB - accA, ci: ci(dAcc) },
    auc: aucA !== null && aucB !== null && dAuc.length ? { a: aucA, b: aucB, difference: aucB - aucA, ci: ci(dAuc) } : null,
    resamples,
    seed,
    level,
  };
}
