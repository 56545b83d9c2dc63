/**
 * out[n, c, s] = (x[n, c or 0, s] - shift[c]) * scale[c] over a flat NC(spatial) layout: one lane
 * per output element, or per 4 when the spatial size allows vec4 loads and stores. The constants
 * are baked in as exact float32 bit patterns; the element count comes as a uniform (`u.total`, in
 * units of the lane's width), so a partial last batch reuses the pipeline.
 */
export interface ChannelLayout {
  /** output channels (the constants' length) */
  channels: number;
  /** input channels: 1 (broadcast to every output channel) or `channels` */
  inChannels: number;
  /** elements per channel plane (H*W) */
  spatial: number;
}

const bits = (v: number) => {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, v);
  return `bitcast<f32>(0x${b.getUint32(0).toString(16).padStart(8, '0')}u)`;
};

export function normalizeChannelsWgsl(l: ChannelLayout, shift: readonly number[], scale: readonly number[], wg: number): string {
  const vec = l.spatial % 4 === 0;
  const S = vec ? l.spatial / 4 : l.spatial;
  const C = l.channels;
  // A broadcast input has one plane per image; otherwise plane (n, c) as the output's.
  const src = l.inChannels === 1 ? `n * ${S}u + s` : `i`;
  const [get, set, ty] = vec ? ['x_get4', 'out_set4', 'vec4<f32>'] : ['x_get', 'out_set', 'f32'];
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (i >= u.total) { return; }
  var shift = array<f32, ${C}>(${shift.map(bits).join(', ')});
  var scale = array<f32, ${C}>(${scale.map(bits).join(', ')});
  let s = i % ${S}u;
  let nc = i / ${S}u;
  let c = nc % ${C}u;
  let n = nc / ${C}u;
  ${set}(i, (${get}(${src}) - ${ty}(shift[c])) * scale[c]);
}
`;
}
