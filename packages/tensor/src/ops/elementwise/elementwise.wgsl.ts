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
fn tanhf(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
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
