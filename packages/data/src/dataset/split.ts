import { mixSeed, mulberry32, shuffleInPlace } from '../rng.ts';

export const SPLITS = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];
export type SplitFractions = Record<SplitName, number>;

export const DEFAULT_FRACTIONS: SplitFractions = { train: 0.7, val: 0.15, test: 0.15 };

/**
 * Seeded stratified split: each class is shuffled on its own (seed mixed with the class name, so
 * adding a class does not reshuffle the others) and cut by largest remainder, so every class
 * keeps the fractions as closely as integer counts allow.
 */
export function stratifiedSplit<T>(
  items: readonly T[],
  labelOf: (t: T) => number | string,
  seed: number,
  fractions: SplitFractions = DEFAULT_FRACTIONS,
): Record<SplitName, T[]> {
  const total = fractions.train + fractions.val + fractions.test;
  if (!(total > 0)) throw new Error(`split fractions must sum to > 0, got ${JSON.stringify(fractions)}`);
  const byClass = new Map<string, T[]>();
  for (const it of items) {
    const k = String(labelOf(it));
    let arr = byClass.get(k);
    if (!arr) byClass.set(k, (arr = []));
    arr.push(it);
  }
  const out: Record<SplitName, T[]> = { train: [], val: [], test: [] };
  for (const k of [...byClass.keys()].sort()) {
    const arr = shuffleInPlace(byClass.get(k)!.slice(), mulberry32(mixSeed(seed, 'split', k)));
    const counts = apportion(
      arr.length,
      SPLITS.map((s) => fractions[s] / total),
    );
    let o = 0;
    SPLITS.forEach((s, i) => {
      out[s].push(...arr.slice(o, o + counts[i]));
      o += counts[i];
    });
  }
  return out;
}

/** Largest-remainder rounding of n * fractions (ties go to the earlier split). */
export function apportion(n: number, fractions: number[]): number[] {
  const exact = fractions.map((f) => n * f);
  const counts = exact.map(Math.floor);
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let j = 0; left > 0; j = (j + 1) % order.length, left--) counts[order[j][1]]++;
  return counts;
}
