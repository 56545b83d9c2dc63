import { fmt } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { grid1d, linearMain, runKernel } from '../../kernel/run.ts';

/**
 * The loss scaler's check, with the gradients' unscale (`nonFiniteCheckAndUnscale`) or without it
 * (`nonFiniteCheck`, for optimizer kernels that take the scale themselves). The test reads the
 * exponent bits, since WGSL lets a compiler assume float arithmetic never meets Inf or NaN. Every
 * invocation that finds one writes the same 1.0 to the flag, which is what the CUDA kernel does
 * too; the flag is only read after the dispatches have finished.
 */

/** The gradients' distinct buffers, validated: the tape hands one gradient to several inputs as views. */
function distinct(op: string, grads: readonly Tensor[], foundInf: Tensor): Tensor[] {
  if (foundInf.dtype !== 'float32' || foundInf.size !== 1) throw new Error(`${op}: foundInf must be float32 [1], got ${foundInf.dtype} ${fmt(foundInf.shape)}`);
  const seen = new Set<object>();
  const out: Tensor[] = [];
  for (const g of grads) {
    if (seen.has(g.storage(op))) continue;
    seen.add(g.storage(op));
    if (g.dtype !== 'float32') throw new Error(`${op}: gradients must be float32 (the master copy), got ${g.dtype} ${fmt(g.shape)}`);
    if (g.storage(op) === foundInf.storage(op)) throw new Error(`${op}: foundInf shares its buffer with a gradient`);
    if (g.size > 0) out.push(g);
  }
  return out;
}

/**
 * torch's `_amp_foreach_non_finite_check_and_unscale_`: multiplies each float32 gradient by
 * `invScale` in place and sets `foundInf` [1] to 1 where any element is infinite or NaN.
 */
export function nonFiniteCheckAndUnscale(grads: readonly Tensor[], foundInf: Tensor, invScale: number): void {
  const op = 'nonFiniteCheckAndUnscale';
  if (!Number.isFinite(invScale)) throw new Error(`${op}: invScale must be finite, got ${invScale}`);
  check(op, grads, foundInf, invScale);
}

/**
 * Sets `foundInf` [1] to 1 where any element of the float32 gradients is infinite or NaN, and
 * writes no gradient: the read-only half of `nonFiniteCheckAndUnscale`, for an optimizer step that
 * takes `gradScale` and `skipIf` itself (no write pass over the gradients).
 */
export function nonFiniteCheck(grads: readonly Tensor[], foundInf: Tensor): void {
  check('nonFiniteCheck', grads, foundInf, null);
}

/** One dispatch per distinct gradient buffer: the exponent-bit test, and the unscale when `invScale` is given. */
function check(op: string, grads: readonly Tensor[], foundInf: Tensor, invScale: number | null): void {
  for (const g of distinct(op, grads, foundInf)) {
    // Four elements per invocation where the size allows (a quarter of the per-lane accesses on a CPU adapter).
    const vec4 = g.size % 4 === 0;
    const n = vec4 ? g.size / 4 : g.size;
    const [get, set, bits, exp] = vec4 ? ['g_get4', 'g_set4', 'vec4<u32>', 'any(e == vec4<u32>(0x7f800000u))'] : ['g_get', 'g_set', 'u32', 'e == 0x7f800000u'];
    const body = `  if (i >= u.n) { return; }
  let v = ${get}(i);
  let e = bitcast<${bits}>(v) & ${bits}(0x7f800000u);
  if (${exp}) { found_set(0u, 1.0); }${invScale === null ? '' : `\n  ${set}(i, v * u.inv);`}`;
    runKernel({
      name: op,
      body: linearMain(256, body),
      // Unscaling writes the gradient in place; the check only reads it.
      inputs: invScale === null ? { g } : {},
      outputs: invScale === null ? { found: foundInf } : { g, found: foundInf },
      uniforms: invScale === null ? { n: ['u32', n] } : { inv: ['f32', invScale], n: ['u32', n] },
      workgroups: grid1d(n, 256),
    });
  }
}
