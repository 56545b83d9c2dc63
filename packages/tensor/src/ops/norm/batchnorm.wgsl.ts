import { divideWgsl } from '../../kernel/divide.wgsl.ts';
import { fold2Wgsl } from '../../kernel/fold.wgsl.ts';

/**
 * Batch norm over NCHW: one workgroup per channel for the statistics and the backward sums
 * (lanes stride over N*H*W, then `fold2Wgsl` in workgroup memory: deterministic), and per
 * channel chunks for the per-element writes.
 */
export interface BnLayout {
  N: number;
  C: number;
  HW: number;
}

/** vec4 loads along H·W (needs H·W % 4 == 0): on a CPU adapter these passes are bound by the loads. */
export const bnVec = (l: BnLayout): boolean => l.HW % 4 === 0;

// Every size is a uniform (see `bnUniforms` in batchnorm.ts), so one pipeline per pass serves
// every layer shape and batch size: u.C channels, u.HW positions per plane and u.R = N·u.HW per
// channel, counted in the kernel's unit (vec4s when H·W % 4 == 0, else scalars); u.M = N·H·W
// values per channel and u.total elements.
const channelMain = (wg: number) => `${divideWgsl}@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let M = u.M;`;

/**
 * Lane `lid` of a channel's workgroup walks r = start, start + wg, … over the channel's u.R units
 * as (image n, position h) at k = (n·C + c)·HW + h, stepping by (u.dn, u.dh) = (wg / HW, wg % HW)
 * with a carry, i.e. k += u.dk = dn·C·HW + dh, and u.carry = C·HW − HW more when h wraps: the
 * order of a flat loop over r (the same sums, bit for bit) with no division per step.
 */
const walk = (start: string, end: string, wg: number, body: string) => `  {
    let r0 = ${start};
    let n0 = divide(r0, u.HW, u.invHW);
    var h = r0 - n0 * u.HW;
    var k = (n0 * u.C + c) * u.HW + h;
    for (var r = r0; r < ${end}; r += ${wg}u) {
${body}
      h += u.dh;
      k += u.dk;
      if (h >= u.HW) { h -= u.HW; k += u.carry; }
    }
  }
`;

/**
 * With a counter (BatchNorm's `num_batches_tracked`), the statistics pass adds one to it (channel
 * 0's lane): one dispatch per layer and step fewer than a separate increment.
 */
const countBatch = (counter: boolean, at: string) => (counter ? `  if (${at}) { n_set(0u, n_get(0u) + 1); }\n` : '');

/** The sum of a per-lane partial's components (with `vec`, a vec4 of 4 running sums). */
const sumOf = (v: string, vec: boolean) => (vec ? `(${v}.x + ${v}.y + ${v}.z + ${v}.w)` : v);

/**
 * Training statistics: batch mean and biased variance (two passes over x, so a large mean costs
 * no precision), saved as mean and 1/sqrt(var + eps); the running stats are updated in place with
 * the unbiased variance, as PyTorch. With `vec`, vec4 loads along H·W (4 values per load).
 */
export function bnStatsWgsl(vec: boolean, wg: number, counter = false): string {
  const [T, get] = vec ? ['vec4<f32>', 'x_get4'] : ['f32', 'x_get'];
  const total = (v: string) => sumOf(v, vec);
  return `${fold2Wgsl(wg)}${channelMain(wg)}
  var s = ${T}(0.0);
${walk('lid', 'u.R', wg, `      s += ${get}(k);`)}  let mean = fold2(lid, ${total('s')}, 0.0).x / f32(M);
  var q = ${T}(0.0);
${walk(
  'lid',
  'u.R',
  wg,
  `      let d = ${get}(k) - ${T}(mean);
      q += d * d;`,
)}  let ss = fold2(lid, ${total('q')}, 0.0).x;
${statsTail}
${countBatch(counter, 'c == 0u && lid == 0u')}}
`;
}

const statsStores = `    let v = ss / f32(M);
    saveMean_set(c, mean);
    saveInvstd_set(c, 1.0 / sqrt(v + u.eps));
    runningMean_set(c, (1.0 - u.momentum) * runningMean_get(c) + u.momentum * mean);
    runningVar_set(c, (1.0 - u.momentum) * runningVar_get(c) + u.momentum * (ss / f32(max(M, 2u) - 1u)));`;
const statsTail = `  if (lid == 0u) {
${statsStores}
  }`;

/** Eval mode: the saved statistics are the running ones. */
export function bnEvalStatsWgsl(wg: number): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= u.C) { return; }
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

/**
 * The per-element passes walk channels too: workgroup (c, p) covers units [p·u.chunk, (p+1)·u.chunk)
 * of channel c, so the channel's mean, scale and shift are loaded once per workgroup (uniform
 * loads) and no lane divides by H·W per element.
 */
const perChannelMain = (wg: number) => `${divideWgsl}@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let p0 = wid.y * u.chunk;
  let p1 = min(p0 + u.chunk, u.R);
`;

export function bnNormalizeWgsl(vec: boolean, e: BnEpilogue, wg: number): string {
  const [T, s4] = vec ? ['vec4<f32>', '4'] : ['f32', ''];
  return `${perChannelMain(wg)}  let mean = ${T}(saveMean_get(c));
  let invstd = saveInvstd_get(c);
${e.weight ? '  let w = weight_get(c);\n' : ''}${e.bias ? `  let b = ${T}(bias_get(c));\n` : ''}${walk(
  'p0 + lid',
  'p1',
  wg,
  `      var y = (x_get${s4}(k) - mean) * invstd${e.weight ? ' * w' : ''}${e.bias ? ' + b' : ''};
${e.residual ? `      y += residual_get${s4}(k);\n` : ''}${e.relu ? `      y = ${reluOf('y', vec)};\n` : ''}      out_set${s4}(k, y);`,
)}}
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

/** Per element k: a += dy (masked by the ReLU), b += dy * (x - mean), the two sums dx needs. */
const gradSums = (masked: boolean, vec: boolean, a = 'a', b = 'b') => `      let g = ${gradAt('k', masked, vec)};
      ${a} += g;
      ${b} += g * (x_get${vec ? '4' : ''}(k) - mean);`;

/** Per channel: dbias = Σ dy and dweight = Σ dy · x̂ (one pass, the mean is known). */
export function bnBackwardReduceWgsl(vec: boolean, wg: number, masked = false): string {
  const T = vec ? 'vec4<f32>' : 'f32';
  const total = (v: string) => sumOf(v, vec);
  return `${fold2Wgsl(wg)}${channelMain(wg)}
  let mean = ${T}(saveMean_get(c));
  let invstd = saveInvstd_get(c);
  var a = ${T}(0.0);
  var b = ${T}(0.0);
${walk('lid', 'u.R', wg, gradSums(masked, vec))}  let t = fold2(lid, ${total('a')}, ${total('b')});
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
export function bnBackwardDxWgsl(vec: boolean, hasWeight: boolean, training: boolean, wg: number, masked = false): string {
  const [T, s4] = vec ? ['vec4<f32>', '4'] : ['f32', ''];
  const hoisted = training
    ? `  let mean = ${T}(saveMean_get(c));
  let db = ${T}(dbias_get(c) / f32(u.M));
  let dw = dweight_get(c) / f32(u.M);
`
    : '';
  const d = training ? `scale * (g - db - (x_get${s4}(k) - mean) * invstd * dw)` : 'scale * g';
  return `${perChannelMain(wg)}  let invstd = saveInvstd_get(c);
  let scale = invstd${hasWeight ? ' * weight_get(c)' : ''};
${hoisted}${walk('p0 + lid', 'p1', wg, `      let g = ${gradAt('k', masked, vec)};\n      dx_set${s4}(k, ${d});`)}}
`;
}

/**
 * Split statistics (fills a GPU): workgroup (c, p) reduces chunk p of channel c's N*H*W values
 * (u.CH each, scalar units) to its local mean and sum of squared deviations, written to
 * part[(c * u.P + p) * 2 + {0, 1}]; `bnStatsMergeWgsl` merges them in order (Chan et al.).
 */
export function bnStatsPartialWgsl(wg: number): string {
  return `${fold2Wgsl(wg)}${channelMain(wg)}
  let p = wid.y;
  let r0 = p * u.CH;
  let r1 = min(r0 + u.CH, M);
  var s = 0.0;
${walk('r0 + lid', 'r1', wg, '      s += x_get(k);')}  let mean = fold2(lid, s, 0.0).x / f32(max(r1, r0 + 1u) - r0);
  var q = 0.0;
${walk(
  'r0 + lid',
  'r1',
  wg,
  `      let d = x_get(k) - mean;
      q += d * d;`,
)}  let ss = fold2(lid, q, 0.0).x;
  if (lid == 0u) {
    part_set((c * u.P + p) * 2u, mean);
    part_set((c * u.P + p) * 2u + 1u, ss);
  }
}
`;
}

export function bnStatsMergeWgsl(wg: number, counter = false): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= u.C) { return; }
  let M = u.M;
  var n = 0.0;
  var mean = 0.0;
  var ss = 0.0;
  for (var p = 0u; p < u.P; p++) {
    let nb = f32(min(u.CH, M - min(M, p * u.CH)));
    if (nb == 0.0) { continue; }
    let mb = part_get((c * u.P + p) * 2u);
    let qb = part_get((c * u.P + p) * 2u + 1u);
    let d = mb - mean;
    let nn = n + nb;
    mean = mean + d * (nb / nn);
    ss = ss + qb + d * d * (n * nb / nn);
    n = nn;
  }
  let v = ss / f32(M);
  saveMean_set(c, mean);
  saveInvstd_set(c, 1.0 / sqrt(v + u.eps));
  runningMean_set(c, (1.0 - u.momentum) * runningMean_get(c) + u.momentum * mean);
  runningVar_set(c, (1.0 - u.momentum) * runningVar_get(c) + u.momentum * (ss / f32(max(M, 2u) - 1u)));
${countBatch(counter, 'c == 0u')}}
`;
}

/** Split backward sums: workgroup (c, p) writes chunk p's Σdy and Σdy·(x − mean); a merge sums them in order. */
export function bnBackwardPartialWgsl(wg: number, masked = false): string {
  return `${fold2Wgsl(wg)}${channelMain(wg)}
  let p = wid.y;
  let r0 = p * u.CH;
  let r1 = min(r0 + u.CH, M);
  let mean = saveMean_get(c);
  var a = 0.0;
  var b = 0.0;
${walk('r0 + lid', 'r1', wg, gradSums(masked, false))}  let t = fold2(lid, a, b);
  if (lid == 0u) {
    part_set((c * u.P + p) * 2u, t.x);
    part_set((c * u.P + p) * 2u + 1u, t.y);
  }
}
`;
}

export function bnBackwardMergeWgsl(wg: number): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= u.C) { return; }
  var a = 0.0;
  var b = 0.0;
  for (var p = 0u; p < u.P; p++) {
    a += part_get((c * u.P + p) * 2u);
    b += part_get((c * u.P + p) * 2u + 1u);
  }
  dbias_set(c, a);
  dweight_set(c, b * saveInvstd_get(c));
}
`;
}

/**
 * The per-channel sums with one lane per channel (CPU adapters): lane c walks its channel's
 * planes in order, summing each plane into a partial that is added to the channel's total (two
 * levels, so the rounding grows with H·W + N, not N·H·W). A workgroup per channel spends most of
 * its time in the fold's barriers on lavapipe (a coroutine switch per barrier and lane group):
 * ResNet-18's 512-channel 2x2 maps took ~0.65 ms for 32K values. No barriers, no workgroup memory.
 */
export const bnLanes = 8;

const laneMain = `@compute @workgroup_size(${bnLanes})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= u.C) { return; }
  let M = u.M;
  let N = u.R / u.HW;`;

/** Lane c's walk: `body` adds element k into the plane partials `p<name>`, which go into `<name>`. */
const laneWalk = (T: string, sums: string[], body: string) => `  for (var n = 0u; n < N; n++) {
    let k0 = (n * u.C + c) * u.HW;
${sums.map((s) => `    var p${s} = ${T}(0.0);`).join('\n')}
    for (var k = k0; k < k0 + u.HW; k++) {
${body}
    }
${sums.map((s) => `    ${s} += p${s};`).join('\n')}
  }
`;

/** Training statistics, one lane per channel: as `bnStatsWgsl`. */
export function bnStatsLanesWgsl(vec: boolean, counter = false): string {
  const [T, get] = vec ? ['vec4<f32>', 'x_get4'] : ['f32', 'x_get'];
  const total = (v: string) => sumOf(v, vec);
  return `${laneMain}
  var s = ${T}(0.0);
${laneWalk(T, ['s'], `      ps += ${get}(k);`)}  let mean = ${total('s')} / f32(M);
  var q = ${T}(0.0);
${laneWalk(
  T,
  ['q'],
  `      let d = ${get}(k) - ${T}(mean);
      pq += d * d;`,
)}  let ss = ${total('q')};
${statsStores}
${countBatch(counter, 'c == 0u')}}
`;
}

/** Backward sums, one lane per channel: as `bnBackwardReduceWgsl`. */
export function bnBackwardReduceLanesWgsl(vec: boolean, masked = false): string {
  const T = vec ? 'vec4<f32>' : 'f32';
  const total = (v: string) => sumOf(v, vec);
  return `${laneMain}
  let mean = ${T}(saveMean_get(c));
  let invstd = saveInvstd_get(c);
  var a = ${T}(0.0);
  var b = ${T}(0.0);
${laneWalk(T, ['a', 'b'], gradSums(masked, vec, 'pa', 'pb'))}  dbias_set(c, ${total('a')});
  dweight_set(c, ${total('b')} * invstd);
}
`;
}
