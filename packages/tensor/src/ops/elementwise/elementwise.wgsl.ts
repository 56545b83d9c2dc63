import type { Shape } from '../../shape.ts';

/** WGSL helpers shared by elementwise expressions (pow of negative bases as torch does it). */
export const elementwiseHelpers = /* wgsl */ `
fn powf(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a >= 0.0) { return pow(a, b); }
  // A runtime NaN: a constant one is rejected by the WGSL compiler.
  if (round(b) != b) { return bitcast<f32>(0x7fc00000u | (bitcast<u32>(b) & 0u)); }
  let m = pow(-a, b);
  return select(m, -m, (i32(b) & 1) == 1);
}
// NaN by its bits: WGSL lets compilers assume floats are never NaN, so \`x != x\` may fold to false,
// and max/min/clamp may return the other operand (lavapipe's max(NaN, 0) is 0).
fn isnanf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn isnan4(x: vec4<f32>) -> vec4<bool> { return (bitcast<vec4<u32>>(x) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u); }
fn sigmoidf(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}
// tanh(x) = (1 − e)/(1 + e) with e = exp(−2|x|) never overflows, but 1 − e cancels for small |x|:
// every digit of x below ~1e-4 was lost (tanh(1e-12) came out 3e-8, tanh(1e-5) 5% off). Below 1/8
// the odd Taylor series instead (the first term left out is under 1e-11 relative there).
fn tanhf(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.125) {
    let x2 = x * x;
    return x * (1.0 + x2 * (-0.33333333 + x2 * (0.13333333 + x2 * (-0.053968254 + x2 * 0.021869488))));
  }
  let e = exp(-2.0 * a);
  return sign(x) * (1.0 - e) / (1.0 + e);
}
// log(1 + t) for t in [0, 1] (t = exp(−|x|) in softplus and BCE): log(1.0 + t) rounds t away in
// 1 + t below 2^-24, so softplus(−20) was 0 instead of 2.1e-9 (a softplus-positive scale of 0, a
// BCE of a confident right answer of exactly 0). Below 1/16 the series t − t²/2 + … + t⁷/7 (the
// first term left out is under 1e-9 relative); above, log(u)·t/(u − 1) with u = 1 + t, which
// cancels the rounding of u (u − 1 is exact).
fn log1pUnit(t: f32) -> f32 {
  if (t < 0.0625) {
    return t * (1.0 - t * (0.5 - t * (0.33333333 - t * (0.25 - t * (0.2 - t * (0.16666667 - t * 0.14285714))))));
  }
  let u = 1.0 + t;
  return log(u) * (t / (u - 1.0));
}
fn log1pUnit4(t: vec4<f32>) -> vec4<f32> {
  let series = t * (1.0 - t * (0.5 - t * (0.33333333 - t * (0.25 - t * (0.2 - t * (0.16666667 - t * 0.14285714))))));
  let u = 1.0 + t;
  // u − 1 is at least 1/16 wherever this branch is taken; elsewhere max() keeps the division finite.
  let direct = log(u) * (t / max(u - 1.0, vec4<f32>(0.0625)));
  return select(direct, series, t < vec4<f32>(0.0625));
}
`;

/**
 * WGSL that turns the output's flat index `i` into an operand's flat index, for each operand
 * whose shape differs from the output (broadcast dimensions have stride 0). Shapes are baked in:
 * a training loop repeats the same few shapes, so each compiles once and runs without divisions
 * by runtime values.
 */
export function broadcastIndex(outShape: Shape, operands: { name: string; strides: number[] | null }[]): string {
  const need = operands.filter((o) => o.strides !== null);
  if (need.length === 0) return '';
  const lines = ['  var r = i;'];
  const coord: string[] = [];
  for (let d = outShape.length - 1; d >= 0; d--) {
    if (d === 0) {
      lines.push('  let c0 = r;');
    } else {
      lines.push(`  let c${d} = r % ${outShape[d]}u; r = r / ${outShape[d]}u;`);
    }
    coord[d] = `c${d}`;
  }
  for (const o of need) {
    const terms = o.strides!.map((s, d) => (s === 0 ? '' : s === 1 ? coord[d] : `${coord[d]} * ${s}u`)).filter(Boolean);
    lines.push(`  let ${o.name} = ${terms.length ? terms.join(' + ') : '0u'};`);
  }
  return lines.join('\n');
}
