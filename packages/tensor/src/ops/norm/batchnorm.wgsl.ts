/**
 * Batch norm over NCHW: one workgroup per channel for the statistics and the backward sums
 * (lanes stride over N*H*W, then a tree fold in workgroup memory: deterministic), and one flat
 * kernel for the per-element writes.
 */
export interface BnLayout {
  N: number;
  C: number;
  HW: number;
}

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

// M = N*H*W and the flat element count come as uniforms (u.M, u.total): kernels do not depend on
// the batch size, so a run's partial last batch and its evaluation batches reuse the pipelines.
const channelMain = (wg: number) => `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let M = u.M;`;

/** Index of vec4 r (of channel c's N*H*W/4) in x viewed as vec4s; needs H*W % 4 == 0. */
const at4 = (l: BnLayout) => `fn at4(c: u32, r: u32) -> u32 { return (r / ${l.HW / 4}u) * ${(l.C * l.HW) / 4}u + c * ${l.HW / 4}u + r % ${l.HW / 4}u; }\n`;

const at = (l: BnLayout) => `fn at(c: u32, r: u32) -> u32 { return (r / ${l.HW}u) * ${l.C * l.HW}u + c * ${l.HW}u + r % ${l.HW}u; }\n`;

/**
 * Training statistics: batch mean and biased variance (two passes over x, so a large mean costs
 * no precision), saved as mean and 1/sqrt(var + eps); the running stats are updated in place with
 * the unbiased variance, as PyTorch.
 */
export function bnStatsWgsl(l: BnLayout, wg: number): string {
  if (l.HW % 4 === 0) {
    // vec4 loads along H*W (4 values per load, no per-element index arithmetic): on a CPU
    // adapter this reduction is bound by the loads and the index math, not by the FMAs.
    return `${fold2(wg)}${at4(l)}${channelMain(wg)}
  var s4 = vec4<f32>(0.0);
  for (var r = lid; r < M / 4u; r += ${wg}u) { s4 += x_get4(at4(c, r)); }
  let mean = fold2(lid, s4.x + s4.y + s4.z + s4.w, 0.0).x / f32(M);
  var q4 = vec4<f32>(0.0);
  for (var r = lid; r < M / 4u; r += ${wg}u) { let d = x_get4(at4(c, r)) - vec4<f32>(mean); q4 += d * d; }
  let ss = fold2(lid, q4.x + q4.y + q4.z + q4.w, 0.0).x;
${statsTail}
}
`;
  }
  return `${fold2(wg)}${at(l)}${channelMain(wg)}
  var s = 0.0;
  for (var r = lid; r < M; r += ${wg}u) { s += x_get(at(c, r)); }
  let mean = fold2(lid, s, 0.0).x / f32(M);
  var q = 0.0;
  for (var r = lid; r < M; r += ${wg}u) { let d = x_get(at(c, r)) - mean; q += d * d; }
  let ss = fold2(lid, q, 0.0).x;
${statsTail}
}
`;
}

const statsTail = `  if (lid == 0u) {
    let v = ss / f32(M);
    saveMean_set(c, mean);
    saveInvstd_set(c, 1.0 / sqrt(v + u.eps));
    runningMean_set(c, (1.0 - u.momentum) * runningMean_get(c) + u.momentum * mean);
    runningVar_set(c, (1.0 - u.momentum) * runningVar_get(c) + u.momentum * (ss / f32(max(M, 2u) - 1u)));
  }`;

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

/**
 * What the normalising pass applies after x̂: γ and β (affine), a residual added before the ReLU
 * (ResNet's `relu(bn2(conv2(…)) + identity)`), and the ReLU itself. One pass instead of up to
 * three (normalise, add, relu), each a full read and write of the activation.
 */
export interface BnEpilogue {
  weight: boolean;
  bias: boolean;
  residual: boolean;
  relu: boolean;
}

/** ReLU as `relu` and `reluBackward` define it (y > 0 keeps y; NaN and -0 become 0). */
const reluOf = (v: string, vec: boolean) => (vec ? `select(vec4<f32>(0.0), ${v}, ${v} > vec4<f32>(0.0))` : `select(0.0, ${v}, ${v} > 0.0)`);

export function bnNormalizeWgsl(l: BnLayout, e: BnEpilogue, wg: number): string {
  const affine = `${e.weight ? ' * weight_get(c)' : ''}${e.bias ? ' + bias_get(c)' : ''}`;
  if (l.HW % 4 === 0) {
    // vec4 loads and stores (one per 4 elements; per-lane scalar accesses are what bounds this
    // pass on a CPU adapter), the channel index computed once per 4 elements.
    return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (i >= u.total / 4u) { return; }
  let c = (i / ${l.HW / 4}u) % ${l.C}u;
  var y = (x_get4(i) - vec4<f32>(saveMean_get(c))) * saveInvstd_get(c)${e.weight ? ' * weight_get(c)' : ''}${e.bias ? ' + vec4<f32>(bias_get(c))' : ''};
${e.residual ? '  y += residual_get4(i);\n' : ''}${e.relu ? `  y = ${reluOf('y', true)};\n` : ''}  out_set4(i, y);
}
`;
  }
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (i >= u.total) { return; }
  let c = (i / ${l.HW}u) % ${l.C}u;
  var y = (x_get(i) - saveMean_get(c)) * saveInvstd_get(c)${affine};
${e.residual ? '  y += residual_get(i);\n' : ''}${e.relu ? `  y = ${reluOf('y', false)};\n` : ''}  out_set(i, y);
}
`;
}

/**
 * The incoming gradient at element k: dy, or with `masked` (a fused ReLU after the batch norm)
 * dy where the forward's output `reluOut` was positive and 0 elsewhere — reluBackward folded in.
 */
const gradAt = (k: string, masked: boolean, vec: boolean) => {
  const g = vec ? 'get4' : 'get';
  if (!masked) return `dy_${g}(${k})`;
  return vec ? `select(vec4<f32>(0.0), dy_get4(${k}), reluOut_get4(${k}) > vec4<f32>(0.0))` : `select(0.0, dy_get(${k}), reluOut_get(${k}) > 0.0)`;
};

/** Per channel: dbias = Σ dy and dweight = Σ dy · x̂ (one pass, the mean is known). */
export function bnBackwardReduceWgsl(l: BnLayout, wg: number, masked = false): string {
  if (l.HW % 4 === 0) {
    return `${fold2(wg)}${at4(l)}${channelMain(wg)}
  let mean = vec4<f32>(saveMean_get(c));
  let invstd = saveInvstd_get(c);
  var a = vec4<f32>(0.0);
  var b = vec4<f32>(0.0);
  for (var r = lid; r < M / 4u; r += ${wg}u) {
    let k = at4(c, r);
    let g = ${gradAt('k', masked, true)};
    a += g;
    b += g * (x_get4(k) - mean);
  }
  let t = fold2(lid, a.x + a.y + a.z + a.w, b.x + b.y + b.z + b.w);
  if (lid == 0u) {
    dbias_set(c, t.x);
    dweight_set(c, t.y * invstd);
  }
}
`;
  }
  return `${fold2(wg)}${at(l)}${channelMain(wg)}
  let mean = saveMean_get(c);
  let invstd = saveInvstd_get(c);
  var a = 0.0;
  var b = 0.0;
  for (var r = lid; r < M; r += ${wg}u) {
    let k = at(c, r);
    let g = ${gradAt('k', masked, false)};
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
export function bnBackwardDxWgsl(l: BnLayout, hasWeight: boolean, training: boolean, wg: number, masked = false): string {
  const vec = l.HW % 4 === 0;
  const head = `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (i >= u.total${vec ? ' / 4u' : ''}) { return; }
  let c = (i / ${vec ? l.HW / 4 : l.HW}u) % ${l.C}u;
  let invstd = saveInvstd_get(c);
  let scale = invstd${hasWeight ? ' * weight_get(c)' : ''};
`;
  if (vec) {
    // vec4 loads and stores (as the normalising pass).
    return `${head}  let g = ${gradAt('i', masked, true)};
  ${
    training
      ? `let xhat = (x_get4(i) - vec4<f32>(saveMean_get(c))) * invstd;
  let d = scale * (g - vec4<f32>(dbias_get(c) / f32(u.M)) - xhat * (dweight_get(c) / f32(u.M)));`
      : 'let d = scale * g;'
  }
  dx_set4(i, d);
}
`;
  }
  return `${head}  let g = ${gradAt('i', masked, false)};
  ${
    training
      ? `let xhat = (x_get(i) - saveMean_get(c)) * invstd;
  dx_set(i, scale * (g - dbias_get(c) / f32(u.M) - xhat * dweight_get(c) / f32(u.M)));`
      : 'dx_set(i, scale * g);'
  }
}
`;
}

/**
 * Split statistics (fills a GPU): workgroup (c, p) reduces chunk p of channel c's N*H*W values
 * (CH = ceil(M / P) each) to its local mean and sum of squared deviations, written to
 * part[(c * P + p) * 2 + {0, 1}]; `bnStatsMergeWgsl` merges them in order (Chan et al.).
 */
export function bnStatsPartialWgsl(l: BnLayout, wg: number, P: number): string {
  const M = l.N * l.HW;
  const CH = Math.ceil(M / P);
  return `${fold2(wg)}${at(l)}${channelMain(wg)}
  let p = wid.y;
  let r0 = p * ${CH}u;
  let r1 = min(r0 + ${CH}u, M);
  var s = 0.0;
  for (var r = r0 + lid; r < r1; r += ${wg}u) { s += x_get(at(c, r)); }
  let mean = fold2(lid, s, 0.0).x / f32(max(r1, r0 + 1u) - r0);
  var q = 0.0;
  for (var r = r0 + lid; r < r1; r += ${wg}u) { let d = x_get(at(c, r)) - mean; q += d * d; }
  let ss = fold2(lid, q, 0.0).x;
  if (lid == 0u) {
    part_set((c * ${P}u + p) * 2u, mean);
    part_set((c * ${P}u + p) * 2u + 1u, ss);
  }
}
`;
}

export function bnStatsMergeWgsl(l: BnLayout, wg: number, P: number): string {
  const M = l.N * l.HW;
  const CH = Math.ceil(M / P);
  return `@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= ${l.C}u) { return; }
  var n = 0.0;
  var mean = 0.0;
  var ss = 0.0;
  for (var p = 0u; p < ${P}u; p++) {
    let nb = f32(min(${CH}u, ${M}u - min(${M}u, p * ${CH}u)));
    if (nb == 0.0) { continue; }
    let mb = part_get((c * ${P}u + p) * 2u);
    let qb = part_get((c * ${P}u + p) * 2u + 1u);
    let d = mb - mean;
    let nn = n + nb;
    mean = mean + d * (nb / nn);
    ss = ss + qb + d * d * (n * nb / nn);
    n = nn;
  }
  let v = ss / f32(${M}u);
  saveMean_set(c, mean);
  saveInvstd_set(c, 1.0 / sqrt(v + u.eps));
  runningMean_set(c, (1.0 - u.momentum) * runningMean_get(c) + u.momentum * mean);
  runningVar_set(c, (1.0 - u.momentum) * runningVar_get(c) + u.momentum * (ss / f32(${Math.max(1, M - 1)}u)));
}
`;
}

/** Split backward sums: workgroup (c, p) writes chunk p's Σdy and Σdy·(x − mean); a merge sums them in order. */
export function bnBackwardPartialWgsl(l: BnLayout, wg: number, P: number, masked = false): string {
  const M = l.N * l.HW;
  const CH = Math.ceil(M / P);
  return `${fold2(wg)}${at(l)}${channelMain(wg)}
  let p = wid.y;
  let r0 = p * ${CH}u;
  let r1 = min(r0 + ${CH}u, M);
  let mean = saveMean_get(c);
  var a = 0.0;
  var b = 0.0;
  for (var r = r0 + lid; r < r1; r += ${wg}u) {
    let k = at(c, r);
    let g = ${gradAt('k', masked, false)};
    a += g;
    b += g * (x_get(k) - mean);
  }
  let t = fold2(lid, a, b);
  if (lid == 0u) {
    part_set((c * ${P}u + p) * 2u, t.x);
    part_set((c * ${P}u + p) * 2u + 1u, t.y);
  }
}
`;
}

export function bnBackwardMergeWgsl(C: number, wg: number, P: number): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= ${C}u) { return; }
  var a = 0.0;
  var b = 0.0;
  for (var p = 0u; p < ${P}u; p++) {
    a += part_get((c * ${P}u + p) * 2u);
    b += part_get((c * ${P}u + p) * 2u + 1u);
  }
  dbias_set(c, a);
  dweight_set(c, b * saveInvstd_get(c));
}
`;
}
