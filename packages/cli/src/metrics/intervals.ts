/**
 * 95% intervals for the reported metrics. Proportions (accuracy, sensitivity, specificity, PPV,
 * NPV) get Wilson score intervals: closed form, good at small n and near 0 or 1, where the Wald
 * interval fails. F1 and AUC have no closed form that holds at small n, so they get a seeded
 * percentile bootstrap that resamples positives and negatives separately (stratified: every
 * resample keeps the class counts, so the AUC is always defined).
 */
import { mulberry32 } from '@cxr/data';

export interface Interval {
  low: number;
  high: number;
}

/** z for a two-sided 95% interval. */
export const z95 = 1.959963984540054;

export const bootstrapDefaults = { resamples: 2000, seed: 20200 } as const;

/** Wilson score interval for k successes out of n (Wilson 1927; Newcombe 1998 method 3). null when n = 0. */
export function wilsonInterval(k: number, n: number, z = z95): Interval | null {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || k > n) throw new Error(`wilsonInterval: need integers 0 <= k <= n, got k=${k}, n=${n}`);
  if (n === 0) return null;
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

export interface BootstrapOptions {
  resamples?: number;
  seed?: number;
}

/**
 * Resampled index sets: positives and negatives are each drawn with replacement from their own
 * stratum. `strata[i]` is the stratum (class) of sample i. Yields `resamples` index arrays.
 */
export function* stratifiedResamples(strata: ArrayLike<number>, options: BootstrapOptions = {}): Generator<Int32Array> {
  const resamples = options.resamples ?? bootstrapDefaults.resamples;
  const rng = mulberry32(options.seed ?? bootstrapDefaults.seed);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < strata.length; i++) {
    const g = groups.get(strata[i]);
    if (g) g.push(i);
    else groups.set(strata[i], [i]);
  }
  const lists = [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  for (let r = 0; r < resamples; r++) {
    const idx = new Int32Array(strata.length);
    let o = 0;
    for (const list of lists) for (let j = 0; j < list.length; j++) idx[o++] = list[Math.floor(rng.next() * list.length)];
    yield idx;
  }
}

/** Linear-interpolated quantile of sorted values (numpy's default 'linear' method). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Percentile bootstrap interval of `statistic(indices)` over stratified resamples; resamples where
 * the statistic is undefined (null) are skipped. null when none is defined.
 */
export function bootstrapInterval(strata: ArrayLike<number>, statistic: (idx: Int32Array) => number | null, options: BootstrapOptions = {}): Interval | null {
  return bootstrapIntervals(strata, (idx) => [statistic(idx)], 1, options)[0];
}

/**
 * Several statistics from one pass over the same stratified resamples (so they cost one resampling
 * and are jointly consistent): `statistics(indices)` returns `count` values, each null where
 * undefined; one percentile interval per value, null where no resample defined it.
 */
export function bootstrapIntervals(
  strata: ArrayLike<number>,
  statistics: (idx: Int32Array) => readonly (number | null)[],
  count: number,
  options: BootstrapOptions = {},
): (Interval | null)[] {
  const values: number[][] = Array.from({ length: count }, () => []);
  for (const idx of stratifiedResamples(strata, options)) {
    const v = statistics(idx);
    for (let j = 0; j < count; j++) if (v[j] !== null && Number.isFinite(v[j])) values[j].push(v[j]!);
  }
  return values.map((vs) => {
    if (vs.length === 0) return null;
    vs.sort((a, b) => a - b);
    return { low: quantileSorted(vs, 0.025), high: quantileSorted(vs, 0.975) };
  });
}
