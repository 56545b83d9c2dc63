/** Float64 references for the losses, written from PyTorch's definitions (not the kernels' algebra). */
export interface RefCeOpts {
  weight?: ArrayLike<number>;
  smoothing?: number;
  reduction?: 'mean' | 'sum' | 'none';
  ignoreIndex?: number;
}

function logSoftmaxRow(z: ArrayLike<number>, base: number, C: number): Float64Array {
  let m = -Infinity;
  for (let c = 0; c < C; c++) m = Math.max(m, z[base + c]);
  let s = 0;
  for (let c = 0; c < C; c++) s += Math.exp(z[base + c] - m);
  const lse = m + Math.log(s);
  return Float64Array.from({ length: C }, (_, c) => z[base + c] - lse);
}

/** torch 1.13: (1−ε)·nll_loss(logp, y, w) + ε/C · smooth, smooth = −Σ_c w_c logp_c (mean divides by Σ w_y). */
export function refCrossEntropy(z: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number, o: RefCeOpts = {}): Float64Array {
  const eps = o.smoothing ?? 0;
  const ignore = o.ignoreIndex ?? -100;
  const w = (c: number) => (o.weight ? o.weight[c] : 1);
  const nll = new Float64Array(N);
  const smooth = new Float64Array(N);
  let wsum = 0;
  for (let i = 0; i < N; i++) {
    if (labels[i] === ignore) continue;
    const lp = logSoftmaxRow(z, i * C, C);
    nll[i] = -w(labels[i]) * lp[labels[i]];
    for (let c = 0; c < C; c++) smooth[i] -= w(c) * lp[c];
    wsum += w(labels[i]);
  }
  const red = o.reduction ?? 'mean';
  const combine = (a: number, b: number) => (1 - eps) * a + (eps / C) * b;
  if (red === 'none') return Float64Array.from({ length: N }, (_, i) => combine(nll[i], smooth[i]));
  const sa = nll.reduce((p, v) => p + v, 0);
  const sb = smooth.reduce((p, v) => p + v, 0);
  return Float64Array.of(red === 'sum' ? combine(sa, sb) : combine(sa / wsum, sb / wsum));
}

/** Central finite differences in float64 of Σ_k g_k·loss_k. */
export function numericGrad(f: (z: Float64Array) => Float64Array, z: ArrayLike<number>, g: ArrayLike<number>, h = 1e-6): Float64Array {
  const zz = Float64Array.from(z);
  const out = new Float64Array(zz.length);
  const dot = (v: Float64Array) => v.reduce((p, x, k) => p + x * g[k], 0);
  for (let j = 0; j < zz.length; j++) {
    const v = zz[j];
    zz[j] = v + h;
    const a = dot(f(zz));
    zz[j] = v - h;
    const b = dot(f(zz));
    zz[j] = v;
    out[j] = (a - b) / (2 * h);
  }
  return out;
}

/** Analytic float64 gradient of refCrossEntropy (softmax − target distribution, weighted). */
export function refCrossEntropyGrad(z: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number, o: RefCeOpts, g: ArrayLike<number>): Float64Array {
  const eps = o.smoothing ?? 0;
  const ignore = o.ignoreIndex ?? -100;
  const w = (c: number) => (o.weight ? o.weight[c] : 1);
  const red = o.reduction ?? 'mean';
  let wsum = 0;
  for (let i = 0; i < N; i++) if (labels[i] !== ignore) wsum += w(labels[i]);
  let W = 0;
  for (let c = 0; c < C; c++) W += w(c);
  const d = new Float64Array(N * C);
  for (let i = 0; i < N; i++) {
    if (labels[i] === ignore) continue;
    const lp = logSoftmaxRow(z, i * C, C);
    const gi = red === 'none' ? g[i] : red === 'sum' ? g[0] : g[0] / wsum;
    for (let c = 0; c < C; c++) {
      const p = Math.exp(lp[c]);
      d[i * C + c] = gi * ((1 - eps) * w(labels[i]) * (p - (c === labels[i] ? 1 : 0)) + (eps / C) * (W * p - w(c)));
    }
  }
  return d;
}

export function refBce(x: ArrayLike<number>, t: ArrayLike<number>, pw: ArrayLike<number> | null, C: number, reduction: 'mean' | 'sum' | 'none'): Float64Array {
  const l = Float64Array.from({ length: x.length }, (_, k) => {
    const p = pw ? pw[k % C] : 1;
    // −[p·t·log σ(x) + (1−t)·log(1−σ(x))], with log σ(x) = −softplus(−x)
    const sp = (v: number) => (v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v)));
    return p * t[k] * sp(-x[k]) + (1 - t[k]) * sp(x[k]);
  });
  if (reduction === 'none') return l;
  const s = l.reduce((a, b) => a + b, 0);
  return Float64Array.of(reduction === 'sum' ? s : s / x.length);
}

export function refBceGrad(
  x: ArrayLike<number>,
  t: ArrayLike<number>,
  pw: ArrayLike<number> | null,
  C: number,
  reduction: 'mean' | 'sum' | 'none',
  g: ArrayLike<number>,
): Float64Array {
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  return Float64Array.from({ length: x.length }, (_, k) => {
    const p = pw ? pw[k % C] : 1;
    const d = -p * t[k] * sig(-x[k]) + (1 - t[k]) * sig(x[k]);
    return d * (reduction === 'none' ? g[k] : reduction === 'sum' ? g[0] : g[0] / x.length);
  });
}
