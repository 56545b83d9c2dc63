/**
 * WGSL bodies (inside `linearMain`) of the fused optimizer updates; every scalar is a uniform,
 * the invocation count `u.n` included.
 */

/**
 * The loss scaler's variant (PyTorch's fused optimizers' `grad_scale` / `found_inf`): the
 * gradient is multiplied by `u.gs`, and a nonzero flag `skip[0]` makes every invocation return
 * before it writes. Absent options leave the source as it was, so the float32 kernels keep their
 * compiled-shader cache entries.
 */
export interface ScaledStep {
  gradScale: boolean;
  skip: boolean;
}

const guard = (v?: ScaledStep) => `  if (i >= u.n${v?.skip ? ' || skip_get(0u) != 0.0' : ''}) { return; }`;
const scaled = (read: string, v?: ScaledStep) => (v?.gradScale ? `${read} * u.gs` : read);

/**
 * torch.optim.SGD for one element i: d = g + wd·p; with momentum buf = d on the first step,
 * else μ·buf + (1 − dampening)·d, and d = nesterov ? d + μ·buf : buf; p −= lr·d.
 */
export function sgdStepWgsl(momentum: boolean, nesterov: boolean, v?: ScaledStep): string {
  const withMomentum = `  var b = d;
  if (u.first == 0u) { b = u.momentum * buf_get(i) + (1.0 - u.dampening) * d; }
  buf_set(i, b);
  ${nesterov ? 'd = d + u.momentum * b;' : 'd = b;'}
`;
  return `${guard(v)}
  let pv = p_get(i);
  var d = ${scaled('g_get(i)', v)} + u.wd * pv;
${momentum ? withMomentum : ''}  p_set(i, pv - u.lr * d);`;
}

/**
 * torch.optim.Adam / AdamW (amsgrad off) for element k: m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g²,
 * p −= stepSize · m / (√v / √(1−β2ᵗ) + eps). When n is a multiple of 4, four elements per
 * invocation with every tensor read and written as vec4: on lavapipe each storage access is a
 * per-lane loop, so a quarter of the accesses is what Adam's time is made of.
 */
export function adamStepWgsl(n: number, decoupledWeightDecay: boolean, v?: ScaledStep): { body: string; invocations: number } {
  const wd = decoupledWeightDecay ? '  pv = pv * (1.0 - u.lr * u.wd);' : '  gr = gr + u.wd * pv;';
  const elem = (idx: string, grad: string) => `  {
  let k = ${idx};
  var pv = p_get(k);
  var gr = ${grad};
${wd}
  let mv = u.b1 * ea_get(k) + (1.0 - u.b1) * gr;
  let vv = u.b2 * eas_get(k) + (1.0 - u.b2) * gr * gr;
  ea_set(k, mv);
  eas_set(k, vv);
  p_set(k, pv - u.stepSize * mv / (sqrt(vv) / u.bc2sqrt + u.eps));
  }`;
  if (n % 4 === 0) {
    const body = `${guard(v)}
  var pv = p_get4(i);
  var gr = ${scaled('g_get4(i)', v)};
${wd}
  let mv = u.b1 * ea_get4(i) + (1.0 - u.b1) * gr;
  let vv = u.b2 * eas_get4(i) + (1.0 - u.b2) * gr * gr;
  ea_set4(i, mv);
  eas_set4(i, vv);
  p_set4(i, pv - u.stepSize * mv / (sqrt(vv) / u.bc2sqrt + u.eps));`;
    return { body, invocations: n / 4 };
  }
  return { body: `${guard(v)}\n${elem('i', scaled('g_get(i)', v))}`, invocations: n };
}
