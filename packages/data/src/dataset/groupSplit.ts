import { mixSeed, mulberry32, shuffleInPlace } from '../rng.ts';
import { SPLITS, type SplitFractions, type SplitName } from './split.ts';

/**
 * Seeded split that keeps every group (patient) in one split, stratified by label as closely as
 * whole groups allow. With several images per patient, a per-image split puts the same patient in
 * train and test and the test score measures recall of patients, not diagnosis.
 *
 * Greedy: groups are shuffled by the seed, then placed largest first into the split where they
 * most reduce the squared per-class shortfall (relative to each class's size, so a small class
 * counts as much as a large one). A split that should get images but ends up with none takes the
 * smallest group from the split holding the most groups.
 */
export function groupedStratifiedSplit<T>(
  items: readonly T[],
  labelOf: (t: T) => string,
  groupOf: (t: T) => string,
  seed: number,
  fractions: SplitFractions,
): Record<SplitName, T[]> {
  const total = fractions.train + fractions.val + fractions.test;
  if (!(total > 0)) throw new Error(`split fractions must sum to > 0, got ${JSON.stringify(fractions)}`);
  const labels = [...new Set(items.map(labelOf))].sort();
  const labelIndex = new Map(labels.map((l, i) => [l, i]));
  const classTotals = new Array<number>(labels.length).fill(0);
  const groups = new Map<string, { items: T[]; counts: number[] }>();
  for (const it of items) {
    const key = groupOf(it);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { items: [], counts: new Array<number>(labels.length).fill(0) }));
    g.items.push(it);
    g.counts[labelIndex.get(labelOf(it))!]++;
    classTotals[labelIndex.get(labelOf(it))!]++;
  }
  const order = shuffleInPlace([...groups.keys()].sort(), mulberry32(mixSeed(seed, 'group-split')));
  const sizeOf = (k: string) => groups.get(k)!.items.length;
  order.sort((a, b) => sizeOf(b) - sizeOf(a)); // stable: equal sizes keep the seeded order

  const target = SPLITS.map((s) => classTotals.map((n) => (n * fractions[s]) / total));
  const current = SPLITS.map(() => new Array<number>(labels.length).fill(0));
  const placed: string[][] = SPLITS.map(() => []);
  for (const key of order) {
    const g = groups.get(key)!;
    let best = -1;
    let bestCost = Infinity;
    SPLITS.forEach((s, si) => {
      if (fractions[s] <= 0) return;
      let cost = 0;
      g.counts.forEach((c, l) => {
        if (c) cost += (c * (2 * (current[si][l] - target[si][l]) + c)) / (classTotals[l] * classTotals[l]);
      });
      if (cost < bestCost) {
        bestCost = cost;
        best = si;
      }
    });
    placed[best].push(key);
    g.counts.forEach((c, l) => {
      current[best][l] += c;
    });
  }
  SPLITS.forEach((s, si) => {
    if (fractions[s] <= 0 || placed[si].length) return;
    const donor = placed.reduce((d, p, i) => (p.length > placed[d].length ? i : d), 0);
    if (placed[donor].length < 2) return; // too few groups: the caller reports the empty split
    let smallest = 0;
    placed[donor].forEach((k, i) => {
      if (sizeOf(k) < sizeOf(placed[donor][smallest])) smallest = i;
    });
    placed[si].push(...placed[donor].splice(smallest, 1));
  });
  const out = {} as Record<SplitName, T[]>;
  SPLITS.forEach((s, si) => {
    out[s] = placed[si].flatMap((k) => groups.get(k)!.items);
  });
  return out;
}
