/**
 * Copies between two strided views: walks `shape`, reading `x` at readBase + Σ c·readStrides and
 * writing `out` at writeBase + Σ c·writeStrides. Transpose, slice, expand and concat are all
 * this one kernel with different baked strides.
 */
export function stridedCopyWgsl(
  shape: number[],
  readStrides: number[],
  readBase: number,
  writeStrides: number[],
  writeBase: number,
  total: number,
  wg: number,
): string {
  const lines = ['  var r = i;', `  var ri = ${readBase}u;`, `  var wi = ${writeBase}u;`];
  for (let d = shape.length - 1; d >= 0; d--) {
    const c = d === 0 ? 'r' : `(r % ${shape[d]}u)`;
    if (readStrides[d] !== 0) lines.push(`  ri += ${c} * ${readStrides[d]}u;`);
    if (writeStrides[d] !== 0) lines.push(`  wi += ${c} * ${writeStrides[d]}u;`);
    if (d > 0) lines.push(`  r = r / ${shape[d]}u;`);
  }
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (i >= ${total}u) { return; }
${lines.join('\n')}
  out_set(wi, x_get(ri));
}
`;
}

/** Constant padding: output coordinates inside the source window read it, the rest get `u.value`. */
export function padWgsl(outShape: number[], inShape: number[], before: number[], total: number, wg: number): string {
  const inStrides: number[] = [];
  let acc = 1;
  for (let d = inShape.length - 1; d >= 0; d--) {
    inStrides[d] = acc;
    acc *= inShape[d];
  }
  const lines = ['  var r = i;', '  var ri = 0u;', '  var inside = true;'];
  for (let d = outShape.length - 1; d >= 0; d--) {
    lines.push(`  { let c = i32(${d === 0 ? 'r' : `r % ${outShape[d]}u`}) - ${before[d]};`);
    lines.push(`    inside = inside && c >= 0 && c < ${inShape[d]};`);
    lines.push(`    ri += u32(max(c, 0)) * ${inStrides[d]}u; }`);
    if (d > 0) lines.push(`  r = r / ${outShape[d]}u;`);
  }
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (i >= ${total}u) { return; }
${lines.join('\n')}
  if (inside) { out_set(i, x_get(ri)); } else { out_set(i, u.value); }
}
`;
}

/** out[.., j, ..] = x[.., index[j], ..] along one axis: outer × count × inner. */
export function gatherWgsl(outer: number, axisLen: number, count: number, inner: number, wg: number): string {
  const total = outer * count * inner;
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (i >= ${total}u) { return; }
  let e = i % ${inner}u;
  let j = (i / ${inner}u) % ${count}u;
  let o = i / ${inner * count}u;
  let k = u32(clamp(index_get(j), 0, ${axisLen - 1}));
  out_set(i, x_get((o * ${axisLen}u + k) * ${inner}u + e));
}
`;
}

export function oneHotWgsl(n: number, classes: number, wg: number): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (i >= ${n * classes}u) { return; }
  out_set(i, select(0.0, 1.0, index_get(i / ${classes}u) == i32(i % ${classes}u)));
}
`;
}
