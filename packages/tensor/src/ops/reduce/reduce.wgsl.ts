import type { Shape } from '../../shape.ts';

export interface ReduceLayout {
  /** Non-reduced dimensions of the input (sizes and strides), in order: they index the output. */
  keepSizes: number[];
  keepStrides: number[];
  /** Reduced dimensions of the input (sizes and strides). */
  redSizes: number[];
  redStrides: number[];
  outSize: number;
  count: number;
}

export function reduceLayout(shape: Shape, axes: number[]): ReduceLayout {
  const strides: number[] = [];
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = acc;
    acc *= shape[d];
  }
  const l: ReduceLayout = { keepSizes: [], keepStrides: [], redSizes: [], redStrides: [], outSize: 1, count: 1 };
  shape.forEach((n, d) => {
    if (axes.includes(d)) {
      l.redSizes.push(n);
      l.redStrides.push(strides[d]);
      l.count *= n;
    } else {
      l.keepSizes.push(n);
      l.keepStrides.push(strides[d]);
      l.outSize *= n;
    }
  });
  return l;
}

/** WGSL expression of the input offset of flat index `v` over the given sizes and strides. */
export function offsetFn(name: string, sizes: number[], strides: number[]): string {
  if (sizes.length === 0) return `fn ${name}(v: u32) -> u32 { return 0u; }\n`;
  // Trailing contiguous block: the offset is the index itself.
  let contiguous = true;
  let expect = 1;
  for (let d = sizes.length - 1; d >= 0; d--) {
    if (strides[d] !== expect) contiguous = false;
    expect *= sizes[d];
  }
  if (contiguous) return `fn ${name}(v: u32) -> u32 { return v; }\n`;
  const lines = [`fn ${name}(v: u32) -> u32 {`, '  var r = v;', '  var o = 0u;'];
  for (let d = sizes.length - 1; d >= 0; d--) {
    if (d === 0) lines.push(`  o += r * ${strides[d]}u;`);
    else lines.push(`  o += (r % ${sizes[d]}u) * ${strides[d]}u; r = r / ${sizes[d]}u;`);
  }
  lines.push('  return o;', '}');
  return lines.join('\n') + '\n';
}

export interface Combiner {
  init: string;
  /** Folds value `v` at reduced position `r` into `acc` (and `idx` for arg reductions). */
  step: string;
  /** Folds the partial in slot `j` of shared memory into `acc`/`idx`. */
  merge: string;
  /** Final value written for output `o`. */
  result: string;
  withIndex: boolean;
}

/** WGSL test for NaN by its bits (compilers may fold \`x != x\` to false). */
const nan = (x: string) => `((bitcast<u32>(${x}) & 0x7fffffffu) > 0x7f800000u)`;

/**
 * ∓Infinity as a runtime value (both kernels have `wid`): WGSL rejects a constant infinity, and
 * the finite ∓3.402823e38 these started from came out as the result where every element is ∓inf
 * (max over a row masked with -inf gave -3.4e38, not -inf) or ∓FLT_MAX, and a workgroup lane with
 * no elements then beat a real -inf in the argmax fold and gave index -1.
 */
const negInf = 'bitcast<f32>(0xff800000u | (wid.x & 0u))';
const posInf = 'bitcast<f32>(0x7f800000u | (wid.x & 0u))';

/**
 * NaN propagates as in PyTorch: max/min of a slice holding NaN is NaN, argmax/argmin point at the
 * first NaN (torch treats NaN as the extreme). Plain WGSL max/min may drop a NaN operand.
 */
export const combiners: Record<'sum' | 'max' | 'min' | 'argmax' | 'argmin' | 'sumsqdev', Combiner> = {
  sum: { init: '0.0', step: 'acc += v;', merge: 'acc += sv[j];', result: 'acc * u.scale', withIndex: false },
  sumsqdev: { init: '0.0', step: 'let dv = v - center_get(o); acc += dv * dv;', merge: 'acc += sv[j];', result: 'acc * u.scale', withIndex: false },
  max: {
    init: negInf,
    step: `if (!${nan('acc')} && (v > acc || ${nan('v')})) { acc = v; }`,
    merge: `if (!${nan('acc')} && (sv[j] > acc || ${nan('sv[j]')})) { acc = sv[j]; }`,
    result: 'acc',
    withIndex: false,
  },
  min: {
    init: posInf,
    step: `if (!${nan('acc')} && (v < acc || ${nan('v')})) { acc = v; }`,
    merge: `if (!${nan('acc')} && (sv[j] < acc || ${nan('sv[j]')})) { acc = sv[j]; }`,
    result: 'acc',
    withIndex: false,
  },
  argmax: {
    init: negInf,
    step: `if (idx == 0xffffffffu || (!${nan('acc')} && (v > acc || ${nan('v')}))) { acc = v; idx = r; }`,
    merge: `if ((${nan('sv[j]')} && (!${nan('acc')} || si[j] < idx)) || (!${nan('sv[j]')} && !${nan('acc')} && (sv[j] > acc || (sv[j] == acc && si[j] < idx)))) { acc = sv[j]; idx = si[j]; }`,
    result: 'i32(idx)',
    withIndex: true,
  },
  argmin: {
    init: posInf,
    step: `if (idx == 0xffffffffu || (!${nan('acc')} && (v < acc || ${nan('v')}))) { acc = v; idx = r; }`,
    merge: `if ((${nan('sv[j]')} && (!${nan('acc')} || si[j] < idx)) || (!${nan('sv[j]')} && !${nan('acc')} && (sv[j] < acc || (sv[j] == acc && si[j] < idx)))) { acc = sv[j]; idx = si[j]; }`,
    result: 'i32(idx)',
    withIndex: true,
  },
};

/**
 * One workgroup per output element: its lanes stride over the reduced elements, then fold their
 * partials through workgroup memory. Used when the reduced extent is large.
 */
export function reduceWorkgroupWgsl(l: ReduceLayout, c: Combiner, wg: number, chunks = 1): string {
  // chunks > 1: workgroup (o, p) folds the reduced elements [p*CH, min((p+1)*CH, count)) and writes
  // its raw partial (no scale) at o*chunks + p; a second reduction over the partials finishes.
  const CH = Math.ceil(l.count / chunks);
  const loop =
    chunks === 1
      ? `for (var r = lid; r < u.count; r += ${wg}u) {`
      : `let p = oc % ${chunks}u;
  let rEnd = min(p * ${CH}u + ${CH}u, ${l.count}u);
  for (var r = p * ${CH}u + lid; r < rEnd; r += ${wg}u) {`;
  return `${offsetFn('keepOffset', l.keepSizes, l.keepStrides)}${offsetFn('redOffset', l.redSizes, l.redStrides)}
var<workgroup> sv: array<f32, ${wg}>;
${c.withIndex ? `var<workgroup> si: array<u32, ${wg}>;` : ''}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let oc = wid.x + wid.y * nwg.x;
  if (oc >= ${chunks === 1 ? 'u.outSize' : `${l.outSize * chunks}u`}) { return; }
  let o = oc / ${chunks}u;
  let base = keepOffset(o);
  var acc: f32 = ${c.init};
  var idx = 0xffffffffu;
  ${loop}
    let v = x_get(base + redOffset(r));
    ${c.step}
  }
  sv[lid] = acc;
  ${c.withIndex ? 'si[lid] = idx;' : ''}
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let j = lid + s;
      acc = sv[lid];
      ${c.withIndex ? 'idx = si[lid];' : ''}
      ${c.merge}
      sv[lid] = acc;
      ${c.withIndex ? 'si[lid] = idx;' : ''}
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    acc = sv[0];
    ${c.withIndex ? 'idx = si[0];' : ''}
    out_set(oc, ${chunks === 1 ? c.result : 'acc'});
  }
}
`;
}

/** One invocation per output element, looping over a short reduced extent. */
export function reduceSerialWgsl(l: ReduceLayout, c: Combiner, wg: number): string {
  return `${offsetFn('keepOffset', l.keepSizes, l.keepStrides)}${offsetFn('redOffset', l.redSizes, l.redStrides)}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (o >= u.outSize) { return; }
  let base = keepOffset(o);
  var acc: f32 = ${c.init};
  var idx = 0xffffffffu;
  for (var r = 0u; r < u.count; r++) {
    let v = x_get(base + redOffset(r));
    ${c.step}
  }
  out_set(o, ${c.result});
}
`;
}
