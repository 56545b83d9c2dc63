/**
 * The shortcut probe's classifier: L2-regularised logistic regression on standardised features,
 * fitted by Newton's method (IRLS; a handful of features, so the Hessian solve is tiny), scored
 * out of fold by seeded stratified k-fold cross-validation. Out-of-fold scores are what an honest
 * AUC is computed from: every image is scored by a model that never saw it.
 */
import { mulberry32, shuffleInPlace } from '../rng.ts';

export interface ProbeOptions {
  folds?: number;
  seed?: number;
  l2?: number;
}

/** Solves A x = b (A symmetric positive definite, small) by Gaussian elimination with pivoting. */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    const d = M[c][c] || 1e-12;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r][c] / d;
      if (f) for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  return M.map((row, i) => row[n] / (M[i][i] || 1e-12));
}

/** Fits weights (intercept last) on rows X (already standardised) and 0/1 targets. */
export function fitLogistic(X: readonly number[][], y: readonly number[], l2 = 1e-2): number[] {
  const d = (X[0]?.length ?? 0) + 1;
  let w = new Array<number>(d).fill(0);
  for (let iter = 0; iter < 50; iter++) {
    const g = new Array<number>(d).fill(0);
    const H = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (let i = 0; i < X.length; i++) {
      const x = [...X[i], 1];
      const z = x.reduce((s, v, k) => s + v * w[k], 0);
      const p = 1 / (1 + Math.exp(-z));
      const r = p * (1 - p);
      for (let a = 0; a < d; a++) {
        g[a] += (p - y[i]) * x[a];
        for (let b = 0; b < d; b++) H[a][b] += r * x[a] * x[b];
      }
    }
    for (let a = 0; a < d - 1; a++) {
      g[a] += l2 * X.length * w[a];
      H[a][a] += l2 * X.length;
    }
    H[d - 1][d - 1] += 1e-9;
    const step = solve(H, g);
    w = w.map((v, k) => v - step[k]);
    if (Math.max(...step.map(Math.abs)) < 1e-8) break;
  }
  return w;
}

/** Out-of-fold probabilities of y = 1 for every row. */
export function crossValidatedScores(X: readonly number[][], y: readonly number[], options: ProbeOptions = {}): Float64Array {
  const folds = options.folds ?? 5;
  const rng = mulberry32(options.seed ?? 0);
  const fold = new Int32Array(y.length);
  for (const cls of [0, 1]) {
    const idx = y.map((v, i) => (v === cls ? i : -1)).filter((i) => i >= 0);
    shuffleInPlace(idx, rng);
    idx.forEach((i, k) => {
      fold[i] = k % folds;
    });
  }
  const out = new Float64Array(y.length);
  for (let f = 0; f < folds; f++) {
    const train = y.map((_, i) => i).filter((i) => fold[i] !== f);
    const test = y.map((_, i) => i).filter((i) => fold[i] === f);
    if (!test.length) continue;
    const d = X[0].length;
    const mean = new Array<number>(d).fill(0);
    const sd = new Array<number>(d).fill(0);
    for (const i of train) for (let k = 0; k < d; k++) mean[k] += X[i][k] / train.length;
    for (const i of train) for (let k = 0; k < d; k++) sd[k] += (X[i][k] - mean[k]) ** 2 / train.length;
    const z = (row: readonly number[]) => row.map((v, k) => (sd[k] > 0 ? (v - mean[k]) / Math.sqrt(sd[k]) : 0));
    const w = fitLogistic(
      train.map((i) => z(X[i])),
      train.map((i) => y[i]),
      options.l2,
    );
    for (const i of test) {
      const x = [...z(X[i]), 1];
      out[i] = 1 / (1 + Math.exp(-x.reduce((s, v, k) => s + v * w[k], 0)));
    }
  }
  return out;
}
