/** WGSL for the backward helpers. A "row" is `len` elements `inner` apart, as in softmax.wgsl.ts. */
const main = (wg: number) => `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;`;

/** softmax: dx = y·(dy − Σ dy·y); logSoftmax: dx = dy − exp(y)·Σ dy. One invocation per row. */
export function softmaxBackwardWgsl(rows: number, len: number, inner: number, log: boolean, wg: number): string {
  return `${main(wg)}
  if (i >= ${rows}u) { return; }
  let base = (i / ${inner}u) * ${len * inner}u + i % ${inner}u;
  var s = 0.0;
  for (var j = 0u; j < ${len}u; j++) {
    let k = base + j * ${inner}u;
    s += dy_get(k)${log ? '' : ' * y_get(k)'};
  }
  for (var j = 0u; j < ${len}u; j++) {
    let k = base + j * ${inner}u;
    ${log ? 'dx_set(k, dy_get(k) - exp(y_get(k)) * s);' : 'dx_set(k, y_get(k) * (dy_get(k) - s));'}
  }
}
`;
}

/** Gradient of a max/min over one axis (or all elements when len = size): dy goes to the recorded index. */
export function argBackwardWgsl(total: number, len: number, inner: number, wg: number): string {
  return `${main(wg)}
  if (i >= ${total}u) { return; }
  let j = (i / ${inner}u) % ${len}u;
  let o = (i / ${len * inner}u) * ${inner}u + i % ${inner}u;
  dx_set(i, select(0.0, dy_get(o), u32(idx_get(o)) == j));
}
`;
}

/**
 * indexSelect backward without atomics: input row j of dx sums the dy rows k with index[k] = j,
 * in k order (deterministic).
 */
export function indexSelectBackwardWgsl(total: number, len: number, inner: number, K: number, wg: number): string {
  return `${main(wg)}
  if (i >= ${total}u) { return; }
  let j = i32((i / ${inner}u) % ${len}u);
  let ob = (i / ${len * inner}u) * ${K * inner}u + i % ${inner}u;
  var s = 0.0;
  for (var k = 0u; k < ${K}u; k++) {
    if (index_get(k) == j) { s += dy_get(ob + k * ${inner}u); }
  }
  dx_set(i, s);
}
`;
}

/**
 * Broadcast of a reduced gradient back over the input shape: dx[i] = dy[kept coords of i] · scale.
 * `shape` is the input shape; `dyStrides[d]` is 0 for reduced dims.
 */
export function broadcastBackWgsl(shape: number[], dyStrides: number[], total: number, wg: number): string {
  const lines: string[] = [];
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (dyStrides[d] !== 0) lines.push(`  o += ((i / ${acc}u) % ${shape[d]}u) * ${dyStrides[d]}u;`);
    acc *= shape[d];
  }
  return `${main(wg)}
  if (i >= ${total}u) { return; }
  var o = 0u;
${lines.join('\n')}
  dx_set(i, dy_get(o) * u.scale);
}
`;
}
