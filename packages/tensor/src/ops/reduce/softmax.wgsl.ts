/**
 * Softmax over one axis, one workgroup per row: max, then the sum of exp(x - max), then the
 * write, so exp never overflows. A row is `len` elements `inner` apart starting at
 * (outer * len * inner + innerIndex). The row count is the uniform `u.rows` (batch sizes share
 * the pipeline). Lane 0 folds the lanes' partials serially, as `fold2Wgsl` does (barriers are
 * what lavapipe's LLVM pays for), which needs wg >= 64 for the same reason as there.
 */
export function softmaxWgsl(len: number, inner: number, log: boolean, wg: number): string {
  return `
var<workgroup> part: array<f32, ${wg}>;
fn fold(lid: u32, isMax: bool) -> f32 {
  workgroupBarrier();
  if (lid == 0u) {
    var r = part[0];
    for (var i = 1u; i < ${wg}u; i++) { r = select(r + part[i], max(r, part[i]), isMax); }
    part[0] = r;
  }
  workgroupBarrier();
  let r = part[0];
  workgroupBarrier();
  return r;
}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= u.rows) { return; }
  let base = (row / ${inner}u) * ${len * inner}u + row % ${inner}u;
  var m = -3.402823e38;
  for (var j = lid; j < ${len}u; j += ${wg}u) { m = max(m, x_get(base + j * ${inner}u)); }
  part[lid] = m;
  m = fold(lid, true);
  var s = 0.0;
  for (var j = lid; j < ${len}u; j += ${wg}u) { s += exp(x_get(base + j * ${inner}u) - m); }
  part[lid] = s;
  s = fold(lid, false);
  let ls = log(s);
  for (var j = lid; j < ${len}u; j += ${wg}u) {
    let k = base + j * ${inner}u;
    ${log ? 'out_set(k, x_get(k) - m - ls);' : 'out_set(k, exp(x_get(k) - m) / s);'}
  }
}
`;
}
