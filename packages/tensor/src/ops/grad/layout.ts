import { fmt, normAxes, type Shape } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { pad, permute, slice, type SliceRange } from '../layout/layout.ts';

/** Gradient of `permute(x, dims)`: dy permuted by the inverse permutation. */
export function permuteBackward(dy: Tensor, dims: readonly number[]): Tensor {
  const inverse = new Array<number>(dims.length);
  dims.forEach((d, i) => {
    inverse[d < 0 ? d + dims.length : d] = i;
  });
  return permute(dy, inverse);
}

/** Gradient of a step-1 `slice(x, ranges)`: dy padded with zeros back to x's shape. */
export function sliceBackward(dy: Tensor, inputShape: Shape, ranges: readonly (SliceRange | null | undefined)[]): Tensor {
  const padding: number[] = [];
  for (let d = inputShape.length - 1; d >= 0; d--) {
    const n = inputShape[d];
    const r = ranges[d] ?? {};
    if ((r.step ?? 1) !== 1) throw new Error(`sliceBackward: step ${r.step} on dim ${d} of ${fmt(inputShape)}; only step 1 is differentiable here`);
    const start = Math.min(n, Math.max(0, (r.start ?? 0) < 0 ? (r.start ?? 0) + n : (r.start ?? 0)));
    padding.push(start, n - start - dy.shape[d]);
  }
  return pad(dy, padding);
}

/** Gradient of `pad(x, padding)` (pairs from the last dim, as torch): the middle of dy. */
export function padBackward(dy: Tensor, inputShape: Shape, padding: readonly number[]): Tensor {
  const ranges: SliceRange[] = inputShape.map(() => ({}));
  for (let k = 0; k < padding.length / 2; k++) {
    const d = inputShape.length - 1 - k;
    ranges[d] = { start: padding[2 * k], end: padding[2 * k] + inputShape[d] };
  }
  return slice(dy, ranges);
}

/** Gradients of `concat(xs, axis)`: dy cut back into pieces of the inputs' shapes (null where not needed). */
export function concatBackward(dy: Tensor, inputShapes: readonly Shape[], axis: number, needs?: readonly boolean[]): (Tensor | null)[] {
  const [a] = normAxes('concatBackward', dy.shape, axis);
  let offset = 0;
  return inputShapes.map((s, k) => {
    const start = offset;
    offset += s[a];
    if (needs && !needs[k]) return null;
    const ranges: SliceRange[] = dy.shape.map(() => ({}));
    ranges[a] = { start, end: start + s[a] };
    return slice(dy, ranges);
  });
}
