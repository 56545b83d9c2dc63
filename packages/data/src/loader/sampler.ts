import { apportion } from '../dataset/split.ts';
import { mixSeed, mulberry32, shuffleInPlace } from '../rng.ts';

export interface SamplerOptions {
  seed: number;
  epoch: number;
  shuffle: boolean;
  /** draw every class equally often (minority classes oversampled, majority undersampled) */
  balanced: boolean;
  /** epoch length when balanced (default: dataset size) */
  length?: number;
}

/**
 * The order of sample indices for one epoch. Balanced sampling walks each class through fresh
 * shuffled permutations rather than drawing with replacement, so within an epoch no image of a
 * class repeats before every image of that class has been seen.
 */
export function epochOrder(labels: ArrayLike<number>, numClasses: number, o: SamplerOptions): number[] {
  const rng = mulberry32(mixSeed(o.seed, 'epoch', o.epoch));
  const n = labels.length;
  if (!o.balanced) {
    const idx = Array.from({ length: n }, (_, i) => i);
    return o.shuffle ? shuffleInPlace(idx, rng) : idx;
  }
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < n; i++) byClass[labels[i]].push(i);
  const present = byClass.map((a, c) => (a.length ? c : -1)).filter((c) => c >= 0);
  const length = o.length ?? n;
  const per = apportion(
    length,
    present.map(() => 1 / present.length),
  );
  const out: number[] = [];
  present.forEach((c, k) => {
    const pool = byClass[c];
    let perm: number[] = [];
    for (let i = 0; i < per[k]; i++) {
      if (!perm.length) perm = shuffleInPlace(pool.slice(), rng);
      out.push(perm.pop()!);
    }
  });
  // interleave classes; without shuffle the balanced order would be class-sorted
  return shuffleInPlace(out, rng);
}

export function toBatches(order: number[], batchSize: number, dropLast: boolean): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) {
    const b = order.slice(i, i + batchSize);
    if (b.length < batchSize && dropLast) break;
    out.push(b);
  }
  return out;
}
