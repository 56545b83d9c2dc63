/**
 * WGSL of the pointwise (1x1, stride 1 or 2, no padding, one group) conv kernels for a CPU
 * adapter with subgroups: forward, input gradient and weight gradient as GEMMs over "quads", four
 * consecutive pixels of the output grid (N x OH x OW flattened, OH * OW a multiple of 4, so a quad
 * never spans two images).
 *
 * Why not the direct gather kernels: with one tap per reduction step those do 64 FMAs per
 * handful of per-lane loads and end with 64 scalar stores per invocation; on lavapipe every
 * storage load or store is 8 bounds-checked scalar accesses, so the 1x1/2 downsamples of ResNet
 * ran at a third of the 3x3 layers' rate. Here every source access is a vec4 (one quad, or for
 * stride 2 two vec4s of which the even columns are used), the values all lanes need (weights in
 * the forward and input gradient, dy in the weight gradient) are loaded once per lane and handed
 * round with subgroupShuffle, and every store is a vec4. The stride-2 input gradient writes its
 * zeros itself (the odd rows and columns), so it needs no separate fill.
 *
 * Every size is a uniform: one pipeline per pass, stride and tile serves every shape.
 */

import { fmaNest } from '../../kernel/fma-chain.ts';

/** Lanes per workgroup: one subgroup (the shuffles need uniform control flow within it). */
export const pointwiseLanes = 8;

export interface PointwiseSpec {
  stride: 1 | 2;
  /** Forward / input gradient: output channels (input channels) per invocation. */
  TO: number;
  /** Forward / input gradient: quads per invocation. */
  TQ: number;
  /**
   * Reduction steps per loop iteration (the reduced size, C in the forward and O in the input
   * gradient, must be a multiple): each accumulator is assigned once per U steps (`fmaChain`).
   */
  U?: number;
  /**
   * Input gradient: the weights of a step as vec4s over four input channels (C and TO multiples
   * of 4): a quarter of the load sites (on lavapipe a divergent load is a per-lane loop with a
   * bounds check per component; a vec4 shares the per-lane part), +5-12 % there.
   */
  wVec4?: boolean;
  bias?: boolean;
}

export interface PointwiseWeightSpec {
  stride: 1 | 2;
  /** Output channels and input channels per invocation. */
  TO: number;
  TC: number;
  /** dw rows hold whole vec4s (C a multiple of 4, TC a multiple of 4): vec4 stores. */
  vec4Store: boolean;
}

const u = (n: number) => `${n}u`;
const comps = ['x', 'y', 'z', 'w'];

/**
 * `count` values that every lane needs: lane l loads values l, l + 8, … (`indexOf` gives a lane's
 * index expression, `load` the load at an index for reduction step j of an unrolled body; clamp
 * there, lanes past `count` load duplicates), `get(i, j)` hands value i of step j round with a
 * constant lane (`comp`: one component of a vector value).
 */
function shared(count: number, indexOf: (laneValue: string) => string, load: (index: string, j: number) => string) {
  const loads = Math.ceil(count / pointwiseLanes);
  return {
    setup: Array.from({ length: loads }, (_, q) => `  let sh${q} = ${indexOf(`${u(q * pointwiseLanes)} + lane`)};`),
    load: (j = 0) => Array.from({ length: loads }, (_, q) => `    let sv${q}_${j} = ${load(`sh${q}`, j)};`),
    get: (i: number, j = 0, comp = '') => `subgroupShuffle(sv${Math.floor(i / pointwiseLanes)}_${j}${comp && `.${comp}`}, ${u(i % pointwiseLanes)})`,
  };
}

/**
 * `acc = acc + w0 x0 + w1 x1 + …` over the U reduction steps of an unrolled body as one nested
 * fma expression: on lavapipe every assignment to a loop-carried variable is a blend with the
 * loop's execution mask (and, for these register-spilling tiles, a stack load and store), so one
 * assignment per U steps instead of per step.
 */
function fmaChain(acc: string, U: number, term: (j: number) => [string, string]): string {
  return `    ${acc} = ${fmaNest(
    acc,
    Array.from({ length: U }, (_, j) => term(j)),
  )};`;
}

/**
 * The stores of the TO channel rows x TQ quads in a loop over the channel row (`name`, bound
 * `count`, a uniform expression): the accumulators go into an array and the store code is
 * generated once instead of TO times. The bound reads TO from a uniform (`u.TO`): with TO
 * written in, Mesa's loop analysis bounds the trip count by it and unrolls the loop anyway (it
 * indexes TO-element arrays), and lavapipe's per-lane checked stores made the pipelines compile
 * several times as long (input gradient, 32 channels: ~5 s against ~0.3 s cold; weight
 * gradient, 32 channels: ~700 against ~250 ms). `store(k)`: the statement for quad k, whose
 * vec4 is `v{k}`.
 */
function storeLoop(L: string[], name: string, count: string, TO: number, TQ: number, store: (k: number) => string): void {
  for (let k = 0; k < TQ; k++) {
    const rows = Array.from({ length: TO }, (_, c) => `vec4<f32>(${[0, 1, 2, 3].map((j) => `a${c}_${k}_${j}`).join(', ')})`);
    L.push(`  var r${k} = array<vec4<f32>, ${TO}>(${rows.join(', ')});`);
  }
  L.push(`  for (var ${name} = 0u; ${name} < ${count}; ${name}++) {`);
  for (let k = 0; k < TQ; k++) {
    L.push(`    let v${k} = r${k}[${name}];`);
    L.push(store(k));
  }
  L.push('  }');
}

const entry = (wg: number) => [
  `@compute @workgroup_size(${wg}, 1, 1)`,
  'fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {',
];

/**
 * Vec4 offsets (within one channel plane of the source, relative to image n's channel 0) of the
 * stride-2 source pixels of quad k: pair m holds output pixels p + 2m and p + 2m + 1 (same row,
 * OW even), which read source columns 2b and 2b + 2 of row 2a, i.e. `.x` and `.z` of the vec4 at
 * (2a * W + 2b) / 4 = a * OW + b / 2 (W = 2 * OW).
 */
function stride2Pairs(L: string[], k: number, indent = '  '): void {
  for (let m = 0; m < 2; m++) {
    L.push(`${indent}let pp${k}_${m} = pq${k} * 4u + ${u(2 * m)};`);
    L.push(`${indent}let po${k}_${m} = (pp${k}_${m} / u.OW) * u.OW + (pp${k}_${m} % u.OW) / 2u;`);
  }
}

/** Quad k of the invocation: image n{k}, quad within the image pq{k}, liveness lq{k}. */
function quads(L: string[], TQ: number): void {
  L.push('  let live = gid.x < u.tiles;');
  L.push('  let t = min(gid.x, u.tiles - 1u);');
  for (let k = 0; k < TQ; k++) {
    L.push(`  let lq${k} = live && t * ${u(TQ)} + ${u(k)} < u.quads;`);
    L.push(`  let q${k} = min(t * ${u(TQ)} + ${u(k)}, u.quads - 1u);`);
    L.push(`  let n${k} = q${k} / u.P4;`);
    L.push(`  let pq${k} = q${k} % u.P4;`);
  }
}

/**
 * Forward: out[n, o, p] = sum_c w[o, c] x[n, c, s * p] (+ bias[o]). Invocation: TO output channels
 * x TQ quads. Uniforms: tiles, TO, quads, P4 (OH * OW / 4), OW, C, O, X4 (H * W / 4: one source
 * channel plane in vec4s).
 */
export function pointwiseForwardWgsl(s: PointwiseSpec): string {
  const { TO, TQ, stride } = s;
  const L: string[] = [...entry(pointwiseLanes)];
  quads(L, TQ);
  L.push(`  let o0 = wid.y * ${u(TO)};`);
  for (let k = 0; k < TQ; k++) {
    if (stride === 1) L.push(`  let xs${k} = n${k} * u.C * u.X4 + pq${k};`);
    else {
      stride2Pairs(L, k);
      for (let m = 0; m < 2; m++) L.push(`  let xs${k}_${m} = n${k} * u.C * u.X4 + po${k}_${m};`);
    }
  }
  const U = s.U ?? 1;
  const w = shared(
    TO,
    (l) => `min(o0 + ${l}, u.O - 1u) * u.C`,
    (i, j) => `w_get(${i} + c + ${u(j)})`,
  );
  L.push(...w.setup);
  for (let o = 0; o < TO; o++) {
    const init = s.bias ? `bias_get(min(o0 + ${u(o)}, u.O - 1u))` : '0.0';
    for (let k = 0; k < TQ; k++) for (let j = 0; j < 4; j++) L.push(`  var a${o}_${k}_${j} = ${init};`);
  }
  L.push(`  for (var c = 0u; c < u.C; c += ${u(U)}) {`);
  // Source pixel j of quad k at step r.
  const x = (k: number, j: number, r: number) => (stride === 1 ? `v${k}_${r}.${comps[j]}` : `v${k}_${j >> 1}_${r}.${j & 1 ? 'z' : 'x'}`);
  for (let r = 0; r < U; r++) {
    L.push(`    let xc${r} = (c + ${u(r)}) * u.X4;`);
    for (let k = 0; k < TQ; k++) {
      if (stride === 1) L.push(`    let v${k}_${r} = x_get4(xs${k} + xc${r});`);
      else for (let m = 0; m < 2; m++) L.push(`    let v${k}_${m}_${r} = x_get4(xs${k}_${m} + xc${r});`);
    }
    L.push(...w.load(r));
  }
  for (let o = 0; o < TO; o++) {
    for (let r = 0; r < U; r++) L.push(`    let w${o}_${r} = ${w.get(o, r)};`);
    for (let k = 0; k < TQ; k++) for (let j = 0; j < 4; j++) L.push(fmaChain(`a${o}_${k}_${j}`, U, (r) => [`w${o}_${r}`, x(k, j, r)]));
  }
  L.push('  }');
  storeLoop(L, 'o', 'min(u.TO, u.O - o0)', TO, TQ, (k) => `    if (lq${k}) { out_set4((n${k} * u.O + o0 + o) * u.P4 + pq${k}, v${k}); }`);
  L.push('}');
  return L.join('\n') + '\n';
}

/**
 * Input gradient: dx[n, c, s * p] = sum_o w[o, c] dy[n, o, p]; for stride 2 the other three
 * pixels of each 2x2 block are zeros, written here (needs H = 2 OH, W = 2 OW). Invocation: TO
 * input channels x TQ quads of dy. Uniforms: tiles, TO, quads, P4, OW, C, O, X4 (H * W / 4).
 */
export function pointwiseInputGradWgsl(s: PointwiseSpec): string {
  const { TO, TQ, stride } = s;
  const L: string[] = [...entry(pointwiseLanes)];
  quads(L, TQ);
  L.push(`  let c0 = wid.y * ${u(TO)};`);
  for (let k = 0; k < TQ; k++) L.push(`  let ys${k} = n${k} * u.O * u.P4 + pq${k};`);
  const U = s.U ?? 1;
  // wVec4: the TO weights of a step, w[o, c0 .. c0 + TO), as TO / 4 vec4s, lane l loading vec4s
  // l, l + 8, …: a quarter of the load sites (C and TO multiples of 4; vec4s past the row's end
  // clamped to its last, their channels never stored).
  const w = s.wVec4
    ? (() => {
        const v = shared(
          TO / 4,
          (l) => `min(c0 / 4u + ${l}, u.C / 4u - 1u)`,
          (i, j) => `w_get4(${i} + wo${j} / 4u)`,
        );
        return { ...v, get: (c: number, j = 0) => v.get(c >> 2, j, comps[c & 3]) };
      })()
    : shared(
        TO,
        (l) => `min(c0 + ${l}, u.C - 1u)`,
        (i, j) => `w_get(${i} + wo${j})`,
      );
  L.push(...w.setup);
  for (let c = 0; c < TO; c++) for (let k = 0; k < TQ; k++) for (let j = 0; j < 4; j++) L.push(`  var a${c}_${k}_${j} = 0.0;`);
  L.push(`  for (var o = 0u; o < u.O; o += ${u(U)}) {`);
  for (let r = 0; r < U; r++) {
    L.push(`    let yo${r} = (o + ${u(r)}) * u.P4;`);
    L.push(`    let wo${r} = (o + ${u(r)}) * u.C;`);
    for (let k = 0; k < TQ; k++) L.push(`    let v${k}_${r} = dy_get4(ys${k} + yo${r});`);
    L.push(...w.load(r));
  }
  for (let c = 0; c < TO; c++) {
    for (let r = 0; r < U; r++) L.push(`    let w${c}_${r} = ${w.get(c, r)};`);
    for (let k = 0; k < TQ; k++) for (let j = 0; j < 4; j++) L.push(fmaChain(`a${c}_${k}_${j}`, U, (r) => [`w${c}_${r}`, `v${k}_${r}.${comps[j]}`]));
  }
  L.push('  }');
  if (stride === 2) for (let k = 0; k < TQ; k++) stride2Pairs(L, k);
  storeLoop(L, 'c', 'min(u.TO, u.C - c0)', TO, TQ, (k) => {
    const plane = `(n${k} * u.C + c0 + c) * u.X4`;
    if (stride === 1) return `    if (lq${k}) { out_set4(${plane} + pq${k}, v${k}); }`;
    // Pair m: row 2a gets (v, 0, v', 0), row 2a + 1 (OW / 2 vec4s further) zeros.
    const st = [0, 1].map(
      (m) =>
        `out_set4(${plane} + po${k}_${m}, vec4<f32>(v${k}.${comps[2 * m]}, 0.0, v${k}.${comps[2 * m + 1]}, 0.0)); out_set4(${plane} + po${k}_${m} + u.OW / 2u, vec4<f32>(0.0));`,
    );
    return `    if (lq${k}) { ${st.join(' ')} }`;
  });
  L.push('}');
  return L.join('\n') + '\n';
}

/**
 * Weight gradient: dw[o, c] = sum over n, p of dy[n, o, p] x[n, c, s * p]. Invocation: TO output
 * channels (workgroup y) x TC input channels (one lane each), a loop over all quads; dy of the TO
 * channels is shared. Uniforms: tiles (input-channel tiles), TO, quads, P4, OW, C, O, X4.
 */
export function pointwiseWeightGradWgsl(s: PointwiseWeightSpec): string {
  const { TO, TC, stride } = s;
  const L: string[] = [...entry(pointwiseLanes)];
  L.push('  let live = gid.x < u.tiles;');
  L.push(`  let c0 = min(gid.x, u.tiles - 1u) * ${u(TC)};`);
  L.push(`  let o0 = wid.y * ${u(TO)};`);
  for (let c = 0; c < TC; c++) L.push(`  let xc${c} = min(c0 + ${u(c)}, u.C - 1u) * u.X4;`);
  const dy = shared(
    TO,
    (l) => `min(o0 + ${l}, u.O - 1u) * u.P4`,
    (i) => `dy_get4(${i} + yq)`,
  );
  L.push(...dy.setup);
  for (let o = 0; o < TO; o++) for (let c = 0; c < TC; c++) L.push(`  var a${o}_${c} = 0.0;`);
  L.push('  for (var q = 0u; q < u.quads; q++) {');
  L.push('    let n0 = q / u.P4;');
  L.push('    let pq0 = q % u.P4;');
  L.push('    let yq = n0 * u.O * u.P4 + pq0;');
  L.push('    let xn = n0 * u.C * u.X4;');
  if (stride === 2) stride2Pairs(L, 0, '    ');
  const x = (c: number, j: number) => (stride === 1 ? `x${c}.${comps[j]}` : `x${c}_${j >> 1}.${j & 1 ? 'z' : 'x'}`);
  for (let c = 0; c < TC; c++) {
    if (stride === 1) L.push(`    let x${c} = x_get4(xn + xc${c} + pq0);`);
    else for (let m = 0; m < 2; m++) L.push(`    let x${c}_${m} = x_get4(xn + xc${c} + po0_${m});`);
  }
  L.push(...dy.load());
  for (let o = 0; o < TO; o++) {
    L.push(`    let d${o} = ${dy.get(o)};`);
    for (let c = 0; c < TC; c++) {
      const acc = `a${o}_${c}`;
      L.push(
        `    ${acc} = ${fmaNest(
          acc,
          comps.map((cj, j): [string, string] => [`d${o}.${cj}`, x(c, j)]),
        )};`,
      );
    }
  }
  L.push('  }');
  // dw [O, C]: the TC channels of a row are consecutive; vec4 stores where C allows (TC = 4k).
  const vec = s.vec4Store && TC % 4 === 0;
  if (vec) {
    // As `storeLoop`: the TO x TC / 4 vec4s in an array, stored in a loop over the output channels
    // (bound from the uniform TO).
    const rows: string[] = [];
    for (let o = 0; o < TO; o++) for (let c = 0; c < TC; c += 4) rows.push(`vec4<f32>(${[0, 1, 2, 3].map((j) => `a${o}_${c + j}`).join(', ')})`);
    L.push(`  var r = array<vec4<f32>, ${rows.length}>(${rows.join(', ')});`);
    L.push('  for (var o = 0u; o < min(u.TO, u.O - o0); o++) {');
    for (let c = 0; c < TC; c += 4) {
      L.push(`    if (live && c0 + ${u(c)} < u.C) { out_set4(((o0 + o) * u.C + c0 + ${u(c)}) / 4u, r[o * ${u(TC / 4)} + ${u(c / 4)}]); }`);
    }
    L.push('  }');
    L.push('}');
    return L.join('\n') + '\n';
  }
  for (let o = 0; o < TO; o++) {
    const row = `(o0 + ${u(o)}) * u.C + c0`;
    for (let c = 0; c < TC; c++) L.push(`  if (live && o0 + ${u(o)} < u.O && c0 + ${u(c)} < u.C) { out_set(${row} + ${u(c)}, a${o}_${c}); }`);
  }
  L.push('}');
  return L.join('\n') + '\n';
}
