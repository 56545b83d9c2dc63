/**
 * WGSL for 2-d pooling over NCHW planes. Every kernel is specialised on the plane sizes and the
 * window (they repeat each training step); the number of planes (batch x channels) is not baked in:
 * the invocation count comes as the uniform `u.total`, so a partial last batch and evaluation
 * batches reuse the training batch's pipelines. Backward kernels are gather-style or one-invocation-per-plane, so no
 * atomics and the result is deterministic.
 */
export interface PoolGeom {
  N: number;
  C: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

const head = (wg: number) => `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;`;

/** One invocation per output: first maximum of the window (a NaN wins, as in PyTorch's CPU kernel), index h*W+w. */
const nanBits = (x: string) => `((bitcast<u32>(${x}) & 0x7fffffffu) > 0x7f800000u)`;

export function maxPoolWgsl(g: PoolGeom, wg: number): string {
  return `${head(wg)}
  if (i >= u.total) { return; }
  let ow = i32(i % ${g.OW}u);
  let oh = i32((i / ${g.OW}u) % ${g.OH}u);
  let plane = i / ${g.OH * g.OW}u;
  let base = plane * ${g.H * g.W}u;
  var best = 0.0;
  var bi = -1;
  for (var a = 0; a < ${g.kh}; a++) {
    let h = oh * ${g.sh} - ${g.ph} + a * ${g.dh};
    if (h < 0 || h >= ${g.H}) { continue; }
    for (var b = 0; b < ${g.kw}; b++) {
      let w = ow * ${g.sw} - ${g.pw} + b * ${g.dw};
      if (w < 0 || w >= ${g.W}) { continue; }
      let idx = h * ${g.W} + w;
      let v = x_get(base + u32(idx));
      if (bi < 0 || (!${nanBits('best')} && (v > best || ${nanBits('v')}))) { best = v; bi = idx; }
    }
  }
  out_set(i, best);
  indices_set(i, bi);
}
`;
}

/**
 * Scatter form, one invocation per (n, c) plane: zero the input-gradient plane, then add each
 * output's gradient at its recorded index in output order (deterministic, no atomics, any
 * geometry). On lavapipe this beats the gather form 7-14x (sequential memory, no index arithmetic
 * per element), but a GPU gets only N*C lanes, each walking a whole plane.
 */
export function maxPoolBackwardScatterWgsl(wg: number): string {
  // Plane count and sizes are uniforms: with constant trip counts LLVM unrolled these loops and
  // lavapipe took seconds to compile each shape; now one pipeline serves every shape and batch size.
  return `${head(wg)}
  if (i >= u.planes) { return; }
  let ib = i * u.hw;
  let ob = i * u.ohw;
  for (var j = 0u; j < u.hw; j++) { dx_set(ib + j, 0.0); }
  for (var j = 0u; j < u.ohw; j++) {
    let idx = indices_get(ob + j);
    if (idx >= 0 && u32(idx) < u.hw) {
      let t = ib + u32(idx);
      dx_set(t, dx_get(t) + dy_get(ob + j));
    }
  }
}
`;
}

/**
 * Gather form (GPUs), one invocation per input element: sum the gradients of the windows whose
 * recorded index is this element, in output order as the scatter form (same sums, no atomics).
 * Only windows that can contain the element are visited: oh in [ceil((h + ph - (kh-1)*dh) / sh),
 * floor((h + ph) / sh)], and the index test settles dilation, padding and ceil-mode edges.
 */
export function maxPoolBackwardGatherWgsl(g: PoolGeom, wg: number): string {
  // The plane geometry is constant (divisions by constants); the element count is a uniform so
  // every batch size shares one pipeline. The window loops run 1-3 times: unrolling them is cheap.
  return `fn cdiv(a: i32, b: i32) -> i32 { return select((a + b - 1) / b, -((-a) / b), a < 0); }
${head(wg)}
  if (i >= u.total) { return; }
  let w = i32(i % ${g.W}u);
  let h = i32((i / ${g.W}u) % ${g.H}u);
  let idx = h * ${g.W} + w;
  let ob = (i / ${g.H * g.W}u) * ${g.OH * g.OW}u;
  let oh0 = max(cdiv(h + ${g.ph - (g.kh - 1) * g.dh}, ${g.sh}), 0);
  let oh1 = min((h + ${g.ph}) / ${g.sh}, ${g.OH - 1});
  let ow0 = max(cdiv(w + ${g.pw - (g.kw - 1) * g.dw}, ${g.sw}), 0);
  let ow1 = min((w + ${g.pw}) / ${g.sw}, ${g.OW - 1});
  var s = 0.0;
  for (var oh = oh0; oh <= oh1; oh++) {
    for (var ow = ow0; ow <= ow1; ow++) {
      let o = ob + u32(oh * ${g.OW} + ow);
      if (indices_get(o) == idx) { s += dy_get(o); }
    }
  }
  dx_set(i, s);
}
`;
}

/** Window bounds and divisor of output (oh, ow), as PyTorch's avg_pool2d. */
function avgDivisorFn(g: PoolGeom, countIncludePad: boolean): string {
  return `fn divisor(oh: i32, ow: i32) -> f32 {
  var hs = oh * ${g.sh} - ${g.ph};
  var ws = ow * ${g.sw} - ${g.pw};
  var he = min(hs + ${g.kh}, ${g.H + g.ph});
  var we = min(ws + ${g.kw}, ${g.W + g.pw});
  let full = (he - hs) * (we - ws);
  hs = max(hs, 0); ws = max(ws, 0); he = min(he, ${g.H}); we = min(we, ${g.W});
  return f32(${countIncludePad ? 'full' : '(he - hs) * (we - ws)'});
}
`;
}

export function avgPoolWgsl(g: PoolGeom, countIncludePad: boolean, wg: number): string {
  return `${avgDivisorFn(g, countIncludePad)}${head(wg)}
  if (i >= u.total) { return; }
  let ow = i32(i % ${g.OW}u);
  let oh = i32((i / ${g.OW}u) % ${g.OH}u);
  let base = (i / ${g.OH * g.OW}u) * ${g.H * g.W}u;
  let hs = oh * ${g.sh} - ${g.ph};
  let ws = ow * ${g.sw} - ${g.pw};
  let he = min(min(hs + ${g.kh}, ${g.H + g.ph}), ${g.H});
  let we = min(min(ws + ${g.kw}, ${g.W + g.pw}), ${g.W});
  var s = 0.0;
  for (var h = max(hs, 0); h < he; h++) {
    for (var w = max(ws, 0); w < we; w++) { s += x_get(base + u32(h * ${g.W} + w)); }
  }
  out_set(i, s / divisor(oh, ow));
}
`;
}

/** Gather-style: each input element sums dy/divisor over the windows that contain it. */
export function avgPoolBackwardWgsl(g: PoolGeom, countIncludePad: boolean, wg: number): string {
  // floor division of possibly negative a by positive b
  return `${avgDivisorFn(g, countIncludePad)}
fn fdiv(a: i32, b: i32) -> i32 { return select(a / b, -((-a + b - 1) / b), a < 0); }
${head(wg)}
  if (i >= u.total) { return; }
  let w = i32(i % ${g.W}u);
  let h = i32((i / ${g.W}u) % ${g.H}u);
  let ob = (i / ${g.H * g.W}u) * ${g.OH * g.OW}u;
  let oh0 = max(fdiv(h + ${g.ph} - ${g.kh}, ${g.sh}) + 1, 0);
  let oh1 = min(fdiv(h + ${g.ph}, ${g.sh}), ${g.OH - 1});
  let ow0 = max(fdiv(w + ${g.pw} - ${g.kw}, ${g.sw}) + 1, 0);
  let ow1 = min(fdiv(w + ${g.pw}, ${g.sw}), ${g.OW - 1});
  var s = 0.0;
  for (var oh = oh0; oh <= oh1; oh++) {
    for (var ow = ow0; ow <= ow1; ow++) {
      s += dy_get(ob + u32(oh * ${g.OW} + ow)) / divisor(oh, ow);
    }
  }
  dx_set(i, s);
}
`;
}

/** start = floor(i*H/OH), end = ceil((i+1)*H/OH), as PyTorch's adaptive_avg_pool2d. */
export function adaptiveAvgPoolWgsl(H: number, W: number, OH: number, OW: number, wg: number): string {
  return `${head(wg)}
  if (i >= u.total) { return; }
  let ow = i % ${OW}u;
  let oh = (i / ${OW}u) % ${OH}u;
  let base = (i / ${OH * OW}u) * ${H * W}u;
  let hs = (oh * ${H}u) / ${OH}u;
  let he = ((oh + 1u) * ${H}u + ${OH - 1}u) / ${OH}u;
  let ws = (ow * ${W}u) / ${OW}u;
  let we = ((ow + 1u) * ${W}u + ${OW - 1}u) / ${OW}u;
  var s = 0.0;
  for (var h = hs; h < he; h++) {
    for (var w = ws; w < we; w++) { s += x_get(base + h * ${W}u + w); }
  }
  out_set(i, s / f32((he - hs) * (we - ws)));
}
`;
}

/** Gather-style: bins containing input row h are oh in [floor(h*OH/H), ceil((h+1)*OH/H)). */
export function adaptiveAvgPoolBackwardWgsl(H: number, W: number, OH: number, OW: number, wg: number): string {
  return `${head(wg)}
  if (i >= u.total) { return; }
  let w = i % ${W}u;
  let h = (i / ${W}u) % ${H}u;
  let ob = (i / ${H * W}u) * ${OH * OW}u;
  let oh0 = (h * ${OH}u) / ${H}u;
  let oh1 = min(((h + 1u) * ${OH}u + ${H - 1}u) / ${H}u, ${OH}u);
  let ow0 = (w * ${OW}u) / ${W}u;
  let ow1 = min(((w + 1u) * ${OW}u + ${W - 1}u) / ${W}u, ${OW}u);
  var s = 0.0;
  for (var oh = oh0; oh < oh1; oh++) {
    let hs = (oh * ${H}u) / ${OH}u;
    let he = ((oh + 1u) * ${H}u + ${OH - 1}u) / ${OH}u;
    if (h < hs || h >= he) { continue; }
    for (var ow = ow0; ow < ow1; ow++) {
      let ws = (ow * ${W}u) / ${OW}u;
      let we = ((ow + 1u) * ${W}u + ${OW - 1}u) / ${OW}u;
      if (w < ws || w >= we) { continue; }
      s += dy_get(ob + oh * ${OW}u + ow) / f32((he - hs) * (we - ws));
    }
  }
  dx_set(i, s);
}
`;
}
