/**
 * `divide(a, d, inv)`: floor(a / d) for a divisor that is a uniform (so one pipeline serves every
 * shape), without an integer division per lane: lavapipe turns a vector `a / d` with a non-constant
 * d into one scalar division per lane, which costs more than the loads of a per-element pass.
 * Below 2^24, f32(a) is exact and a · `inv` (= 1/d in f32, see `reciprocalOf`) is within one of
 * a / d, so one step each way makes it exact; larger a take the integer division.
 */
export const divideWgsl = `fn divide(a: u32, d: u32, inv: f32) -> u32 {
  if (a >= 16777216u) { return a / d; }
  let q = u32(f32(a) * inv);
  let r = i32(a) - i32(q * d);
  return select(select(q, q + 1u, r >= i32(d)), q - 1u, r < 0);
}
`;

/** The f32 reciprocal `divide` takes beside its divisor. */
export const reciprocalOf = (d: number): ['f32', number] => ['f32', 1 / d];
