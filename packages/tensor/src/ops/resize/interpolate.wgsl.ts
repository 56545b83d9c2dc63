/**
 * Bilinear resize of NCHW planes with PyTorch's `align_corners=False` sampling (pixel centres:
 * src = (dst + 0.5) * in/out - 0.5, clamped at 0), one invocation per output element.
 */
export interface ResizeGeom {
  planes: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
}

export function bilinearWgsl(g: ResizeGeom, wg: number): string {
  const total = g.planes * g.OH * g.OW;
  const f = (v: number) => (Number.isInteger(v) ? `${v}.0` : `${v}`);
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (i >= ${total}u) { return; }
  let ow = i % ${g.OW}u;
  let oh = (i / ${g.OW}u) % ${g.OH}u;
  let base = (i / ${g.OH * g.OW}u) * ${g.H * g.W}u;
  let sy = max((f32(oh) + 0.5) * ${f(g.H / g.OH)} - 0.5, 0.0);
  let sx = max((f32(ow) + 0.5) * ${f(g.W / g.OW)} - 0.5, 0.0);
  let y0 = min(u32(sy), ${g.H - 1}u);
  let x0 = min(u32(sx), ${g.W - 1}u);
  let y1 = min(y0 + 1u, ${g.H - 1}u);
  let x1 = min(x0 + 1u, ${g.W - 1}u);
  let ly = sy - f32(y0);
  let lx = sx - f32(x0);
  let top = (1.0 - lx) * x_get(base + y0 * ${g.W}u + x0) + lx * x_get(base + y0 * ${g.W}u + x1);
  let bottom = (1.0 - lx) * x_get(base + y1 * ${g.W}u + x0) + lx * x_get(base + y1 * ${g.W}u + x1);
  out_set(i, (1.0 - ly) * top + ly * bottom);
}
`;
}
