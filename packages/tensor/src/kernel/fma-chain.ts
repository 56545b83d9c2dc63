/**
 * `fma(a_n, b_n, … fma(a_0, b_0, acc))`: the terms' products added to `acc` in order, as one
 * expression. On lavapipe every assignment to a loop-carried variable is a blend with the loop's
 * execution mask (and a stack load and store for spilled register tiles), so the CPU kernels give
 * an accumulator several products per assignment; nested this way the sums are those of one FMA
 * per assignment, bit for bit.
 */
export function fmaNest(acc: string, terms: readonly (readonly [string, string])[]): string {
  let e = acc;
  for (const [a, b] of terms) e = `fma(${a}, ${b}, ${e})`;
  return e;
}
