/** Float64 reference for batch norm (PyTorch semantics) and its backward. */
export interface RefBnOut {
  out: Float64Array;
  mean: Float64Array;
  invstd: Float64Array;
  runningMean: Float64Array;
  runningVar: Float64Array;
}

export function refBatchNorm(
  x: ArrayLike<number>,
  shape: number[],
  weight: ArrayLike<number> | null,
  bias: ArrayLike<number> | null,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  training: boolean,
  momentum = 0.1,
  eps = 1e-5,
): RefBnOut {
  const [N, C] = shape;
  const HW = shape.slice(2).reduce((a, b) => a * b, 1);
  const M = N * HW;
  const at = (c: number, r: number) => Math.floor(r / HW) * C * HW + c * HW + (r % HW);
  const mean = new Float64Array(C);
  const invstd = new Float64Array(C);
  const rm = Float64Array.from(runningMean);
  const rv = Float64Array.from(runningVar);
  for (let c = 0; c < C; c++) {
    if (training) {
      let s = 0;
      for (let r = 0; r < M; r++) s += x[at(c, r)];
      const m = s / M;
      let q = 0;
      for (let r = 0; r < M; r++) q += (x[at(c, r)] - m) ** 2;
      mean[c] = m;
      invstd[c] = 1 / Math.sqrt(q / M + eps);
      rm[c] = (1 - momentum) * rm[c] + momentum * m;
      rv[c] = (1 - momentum) * rv[c] + momentum * (q / (M - 1));
    } else {
      mean[c] = rm[c];
      invstd[c] = 1 / Math.sqrt(rv[c] + eps);
    }
  }
  const out = new Float64Array(N * C * HW);
  for (let c = 0; c < C; c++)
    for (let r = 0; r < M; r++) {
      const k = at(c, r);
      out[k] = (x[k] - mean[c]) * invstd[c] * (weight ? weight[c] : 1) + (bias ? bias[c] : 0);
    }
  return { out, mean, invstd, runningMean: rm, runningVar: rv };
}

/** Gradient of batch norm, written from the chain rule directly (not the kernel's closed form). */
export function refBatchNormBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  shape: number[],
  weight: ArrayLike<number> | null,
  mean: ArrayLike<number>,
  invstd: ArrayLike<number>,
  training: boolean,
) {
  const [N, C] = shape;
  const HW = shape.slice(2).reduce((a, b) => a * b, 1);
  const M = N * HW;
  const at = (c: number, r: number) => Math.floor(r / HW) * C * HW + c * HW + (r % HW);
  const dx = new Float64Array(N * C * HW);
  const dweight = new Float64Array(C);
  const dbias = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const w = weight ? weight[c] : 1;
    let dxhatSum = 0;
    let dxhatXm = 0;
    for (let r = 0; r < M; r++) {
      const k = at(c, r);
      const xhat = (x[k] - mean[c]) * invstd[c];
      dbias[c] += dy[k];
      dweight[c] += dy[k] * xhat;
      dxhatSum += dy[k] * w;
      dxhatXm += dy[k] * w * (x[k] - mean[c]);
    }
    for (let r = 0; r < M; r++) {
      const k = at(c, r);
      const dxhat = dy[k] * w;
      if (!training) {
        dx[k] = dxhat * invstd[c];
        continue;
      }
      // d var / d x and d mean / d x terms
      const dvar = dxhatXm * -0.5 * invstd[c] ** 3;
      const dmean = -dxhatSum * invstd[c];
      dx[k] = dxhat * invstd[c] + (dvar * 2 * (x[k] - mean[c])) / M + dmean / M;
    }
  }
  return { dx, dweight, dbias };
}
