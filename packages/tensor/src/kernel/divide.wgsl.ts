/**
 * `divide(a, d, inv)`: floor(a / d) for a divisor that is a uniform (so one pipeline serves every
 * shape), without an integer division per lane: lavapipe turns a vector `a / d` with a non-constant
 * d into one scalar division per lane, several times the cost of the loads in a flat per-element
 * pass. The quotient comes from the f32 reciprocal `inv` = 1/d (see `reciprocalOf`), which is
 * within one of the true quotient below 2^21; the loops correct it exactly (at most one step
 * there, more only for larger quotients). Needs a < 2^31.
 */
export const divideWgsl = `fn divide(a: u32, d: u32, inv: f32) -> u32 {
  var q = u32(f32(a) * inv);
  while (q * d > a) { q -= 1u; }
  while (a - q * d >= d) { q += 1u; }
  return q;
}
`;

/** The f32 reciprocal `divide` takes beside its divisor. */
export const reciprocalOf = (d: number): ['f32', number] => ['f32', 1 / d];
