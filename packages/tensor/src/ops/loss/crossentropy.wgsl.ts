import { fold2Wgsl } from '../../kernel/fold.wgsl.ts';

/**
 * Cross-entropy with logits, PyTorch 1.13 semantics:
 *   loss_i = (1−ε)·w[y_i]·(lse_i − z_iy) + ε/C · Σ_c w_c·(lse_i − z_ic)     (0 for ignored rows)
 *   mean   = Σ loss_i / Σ w[y_i]  (non-ignored rows; without weights w ≡ 1)
 * Rows are reduced serially per invocation (class counts are small), sums over rows in one
 * workgroup in a fixed order (`fold2Wgsl`): deterministic. The row count is the uniform `u.N` in
 * every kernel, so a partial last batch and evaluation batches reuse the training batch's pipelines.
 */
export interface CeLayout {
  N: number;
  C: number;
  weighted: boolean;
  ignoreIndex: number;
  smoothing: number;
}

const wOf = (l: CeLayout, c: string) => (l.weighted ? `weight_get(${c})` : '1.0');

/** Per row: lse, the row's loss (unreduced) and its target weight (0 when ignored, NaN-flagged on a bad label). */
export function ceRowsWgsl(l: CeLayout, wg: number, withLoss: boolean): string {
  const eps = l.smoothing;
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (i >= u.N) { return; }
  let base = i * ${l.C}u;
  var m = logits_get(base);
  for (var c = 1u; c < ${l.C}u; c++) { m = max(m, logits_get(base + c)); }
  var s = 0.0;
  for (var c = 0u; c < ${l.C}u; c++) { s += exp(logits_get(base + c) - m); }
  let lse = m + log(s);
  lse_set(i, lse);
  let y = labels_get(i);
  var nanBits = 0x7fc00000u;
  if (y == ${l.ignoreIndex}) {
    wy_set(i, 0.0);
    ${withLoss ? 'loss_set(i, 0.0);' : ''}
    return;
  }
  if (y < 0 || y >= ${l.C}) {
    // an out-of-range label poisons the result instead of reading another row
    wy_set(i, bitcast<f32>(nanBits));
    ${withLoss ? 'loss_set(i, bitcast<f32>(nanBits));' : ''}
    return;
  }
  let wy = ${wOf(l, 'u32(y)')};
  wy_set(i, wy);
  ${
    withLoss
      ? `var loss = ${1 - eps} * wy * (lse - logits_get(base + u32(y)));
  ${
    eps > 0
      ? `var sm = 0.0;
  for (var c = 0u; c < ${l.C}u; c++) { sm += ${wOf(l, 'c')} * (lse - logits_get(base + c)); }
  loss += ${eps / l.C} * sm;`
      : ''
  }
  loss_set(i, loss);`
      : ''
  }
}
`;
}

const foldWg = 256;
const fold = fold2Wgsl(foldWg);

/** One workgroup: out[0] = Σ loss (sum) or Σ loss / Σ wy (mean). */
export function ceReduceWgsl(mean: boolean): string {
  return `${fold}
@compute @workgroup_size(${foldWg})
fn main(@builtin(local_invocation_index) lid: u32) {
  var a = 0.0;
  var b = 0.0;
  for (var r = lid; r < u.N; r += ${foldWg}u) { a += loss_get(r); b += wy_get(r); }
  let t = fold2(lid, a, b);
  if (lid == 0u) { out_set(0u, ${mean ? 't.x / t.y' : 't.x'}); }
}
`;
}

/** One workgroup: stats = [Σ wy (the mean's divisor), Σ_c w_c]. */
export function ceGradStatsWgsl(l: CeLayout): string {
  return `${fold}
@compute @workgroup_size(${foldWg})
fn main(@builtin(local_invocation_index) lid: u32) {
  var a = 0.0;
  var b = 0.0;
  for (var r = lid; r < u.N; r += ${foldWg}u) { a += wy_get(r); }
  for (var c = lid; c < ${l.C}u; c += ${foldWg}u) { b += ${wOf(l, 'c')}; }
  let t = fold2(lid, a, b);
  if (lid == 0u) { stats_set(0u, t.x); stats_set(1u, t.y); }
}
`;
}

/**
 * d loss_i / d z_ic = (1−ε)·w_y·(p_ic − [c = y]) + ε/C·(W·p_ic − w_c), W = Σ w, times the
 * incoming gradient (per row for 'none') and divided by Σ w_y for 'mean'.
 */
export function ceGradWgsl(l: CeLayout, mode: 'mean' | 'sum' | 'none', grad: 'uniform' | 'scalar' | 'rows', wg: number): string {
  const eps = l.smoothing;
  const g = grad === 'uniform' ? 'u.g' : grad === 'scalar' ? 'gradOutput_get(0u)' : 'gradOutput_get(i)';
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (k >= u.N * ${l.C}u) { return; }
  let i = k / ${l.C}u;
  let c = k % ${l.C}u;
  let y = labels_get(i);
  if (y == ${l.ignoreIndex}) { dlogits_set(k, 0.0); return; }
  let p = exp(logits_get(k) - lse_get(i));
  let wy = wy_get(i);
  var d = ${1 - eps} * wy * (p - select(0.0, 1.0, i32(c) == y));
  ${eps > 0 ? `d += ${eps / l.C} * (stats_get(1u) * p - ${wOf(l, 'c')});` : ''}
  dlogits_set(k, d * ${g}${mode === 'mean' ? ' / stats_get(0u)' : ''});
}
`;
}
