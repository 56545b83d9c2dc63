/**
 * Batch norm over NCHW: one workgroup per channel for the statistics and the backward sums
 * (lanes stride over N*H*W, then a tree fold in workgroup memory: deterministic), and one flat
 * kernel for the per-element writes.
 */
export interface BnLayout { N: number; C: number; HW: number }

const fold2 = (wg: number) => `
var<workgroup> pa: array<f32, ${wg}>;
var<workgroup> pb: array<f32, ${wg}>;
fn fold2(lid: u32, a: f32, b: f32) -> vec2<f32> {
  pa[lid] = a;
  pb[lid] = b;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { pa[lid] += pa[lid + s]; pb[lid] += pb[lid + s]; }
    workgroupBarrier();
  }
  let r = vec2<f32>(pa[0], pb[0]);
  workgroupBarrier();
  return r;
}
`;

const channelMain = (wg: number, l: BnLayout) => `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let M = ${l.N * l.HW}u;`;

const at = (l: BnLayout) => `fn at(c: u32, r: u32) -> u32 { return (r / ${l.HW}u) * ${l.C * l.HW}u + c * ${l.HW}u + r % ${l.HW}u; }\n`;

/**
 * Training statistics: batch mean and biased variance (two passes over x, so a large mean costs
 * no precision), saved as mean and 1/sqrt(var + eps); the running stats are updated in place with
 * the unbiased variance, as PyTorch.
 */
export function bnStatsWgsl(l: BnLayout, wg: number): string {
  const M = l.N * l.HW;
  return `${fold2(wg)}${at(l)}${channelMain(wg, l)}
  var s = 0.0;
  for (var r = lid; r < M; r += ${wg}u) { s += x_get(at(c, r)); }
  let mean = fold2(lid, s, 0.0).x / f32(M);
  var q = 0.0;
  for (var r = lid; r < M; r += ${wg}u) { let d = x_get(at(c, r)) - mean; q += d * d; }
  let ss = fold2(lid, q, 0.0).x;
  if (lid == 0u) {
    let v = ss / f32(M);
    saveMean_set(c, mean);
    saveInvstd_set(c, 1.0 / sqrt(v + u.eps));
    runningMean_set(c, (1.0 - u.momentum) * runningMean_get(c) + u.momentum * mean);
    runningVar_set(c, (1.0 - u.momentum) * runningVar_get(c) + u.momentum * (ss / f32(${Math.max(1, M - 1)}u)));
  }
}
`;
}

/** Eval mode: the saved statistics are the running ones. */
export function bnEvalStatsWgsl(C: number, wg: number): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= ${C}u) { return; }
  saveMean_set(c, runningMean_get(c));
  saveInvstd_set(c, 1.0 / sqrt(runningVar_get(c) + u.eps));
}
`;
}

export function bnNormalizeWgsl(l: BnLayout, affine: { weight: boolean; bias: boolean }, wg: number): string {
  const total = l.N * l.C * l.HW;
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (i >= ${total}u) { return; }
  let c = (i / ${l.HW}u) % ${l.C}u;
  let y = (x_get(i) - saveMean_get(c)) * saveInvstd_get(c);
  out_set(i, y${affine.weight ? ' * weight_get(c)' : ''}${affine.bias ? ' + bias_get(c)' : ''});
}
`;
}

/** Per channel: dbias = Σ dy and dweight = Σ dy · x̂ (one pass, the mean is known). */
export function bnBackwardReduceWgsl(l: BnLayout, wg: number): string {
  return `${fold2(wg)}${at(l)}${channelMain(wg, l)}
  let mean = saveMean_get(c);
  let invstd = saveInvstd_get(c);
  var a = 0.0;
  var b = 0.0;
  for (var r = lid; r < M; r += ${wg}u) {
    let k = at(c, r);
    let g = dy_get(k);
    a += g;
    b += g * (x_get(k) - mean);
  }
  let t = fold2(lid, a, b);
  if (lid == 0u) {
    dbias_set(c, t.x);
    dweight_set(c, t.y * invstd);
  }
}
`;
}

/**
 * dx = w·invstd·(dy − dbias/M − x̂·dweight/M) in training mode (the batch statistics depend on x),
 * dx = w·invstd·dy in eval mode.
 */
export function bnBackwardDxWgsl(l: BnLayout, hasWeight: boolean, training: boolean, wg: number): string {
  const total = l.N * l.C * l.HW;
  const M = l.N * l.HW;
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (i >= ${total}u) { return; }
  let c = (i / ${l.HW}u) % ${l.C}u;
  let invstd = saveInvstd_get(c);
  let scale = invstd${hasWeight ? ' * weight_get(c)' : ''};
  ${training
    ? `let xhat = (x_get(i) - saveMean_get(c)) * invstd;
  dx_set(i, scale * (dy_get(i) - dbias_get(c) / ${M}.0 - xhat * dweight_get(c) / ${M}.0));`
    : 'dx_set(i, scale * dy_get(i));'}
}
`;
}
