import { fmt, normAxes, sizeOf, stridesOf, broadcastShapes, type Shape } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, runKernel } from '../../kernel/run.ts';
import { gatherWgsl, oneHotWgsl, padWgsl, stridedCopyWgsl } from './strided.wgsl.ts';

const wg = 256;

function stridedCopy(
  op: string,
  x: Tensor,
  shape: number[],
  readStrides: number[],
  readBase: number,
  out: Tensor,
  writeStrides: number[],
  writeBase: number,
): void {
  const total = sizeOf(shape);
  if (total === 0) return;
  runKernel({
    name: op,
    body: stridedCopyWgsl(shape, readStrides, readBase, writeStrides, writeBase, total, wg),
    inputs: { x },
    outputs: { out },
    workgroups: grid1d(total, wg),
  });
}

/** A view with a new shape (one dimension may be -1); no copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const free = s.indexOf(-1);
  if (free >= 0) {
    if (s.indexOf(-1, free + 1) >= 0) throw new Error(`reshape: only one -1 allowed in ${fmt(shape)}`);
    const rest = s.reduce((p, d, i) => (i === free ? p : p * d), 1);
    if (rest === 0 || x.size % rest !== 0) throw new Error(`reshape: cannot view ${fmt(x.shape)} as ${fmt(shape)}`);
    s[free] = x.size / rest;
  }
  return x.view(s);
}

/** Flattens dims startDim..endDim into one (as `torch.flatten`); a view. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.rank === 0) return x.view([1]);
  const [s, e] = normAxes('flatten', x.shape, [startDim, endDim === -1 ? x.rank - 1 : endDim]).sort((a, b) => a - b);
  const merged = x.shape.slice(s, e + 1).reduce((p, d) => p * d, 1);
  return x.view([...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
}

/** Reorders dimensions (materialised by a copy kernel). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.rank) throw new Error(`permute: ${dims.length} dims given for shape ${fmt(x.shape)}`);
  const d = normAxes('permute', x.shape, dims);
  if (d.length !== x.rank) throw new Error(`permute: dims ${JSON.stringify(dims)} are not a permutation for ${fmt(x.shape)}`);
  const norm = dims.map((a) => (a < 0 ? a + x.rank : a));
  const inStrides = stridesOf(x.shape);
  const outShape = norm.map((a) => x.shape[a]);
  const out = Tensor.empty(outShape, x.dtype, 'permute');
  stridedCopy(
    'permute',
    x,
    outShape,
    norm.map((a) => inStrides[a]),
    0,
    out,
    stridesOf(outShape),
    0,
  );
  return out;
}

/** Swaps two dimensions (default: the last two). */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const [a, b] = [dim0 < 0 ? dim0 + x.rank : dim0, dim1 < 0 ? dim1 + x.rank : dim1];
  if (a < 0 || b < 0 || a >= x.rank || b >= x.rank) throw new Error(`transpose: dims ${dim0}, ${dim1} out of range for ${fmt(x.shape)}`);
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/** A copy of x (tensors are always contiguous; kept for PyTorch-shaped code). */
export function contiguous(x: Tensor): Tensor {
  return stridedCopyAll('contiguous', x);
}

function stridedCopyAll(op: string, x: Tensor): Tensor {
  const out = Tensor.empty(x.shape, x.dtype, op);
  const s = stridesOf(x.shape);
  stridedCopy(op, x, [...x.shape], s, 0, out, s, 0);
  return out;
}

/** Broadcasts x to `shape` (materialised). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const outShape = broadcastShapes('expand', x.shape, shape);
  if (outShape.some((d, i) => d !== shape[i])) throw new Error(`expand: cannot expand ${fmt(x.shape)} to ${fmt(shape)}`);
  const inStrides = stridesOf(x.shape);
  const readStrides = outShape.map((_, o) => {
    const d = o - (outShape.length - x.rank);
    return d < 0 || x.shape[d] === 1 ? 0 : inStrides[d];
  });
  const out = Tensor.empty(outShape, x.dtype, 'expand');
  stridedCopy('expand', x, outShape, readStrides, 0, out, stridesOf(outShape), 0);
  return out;
}

export interface SliceRange {
  start?: number;
  end?: number;
  step?: number;
}

/**
 * Slices each dimension by [start, end) with a positive step (negative start/end count from the
 * end, as in Python); dimensions without a range are kept whole.
 */
export function slice(x: Tensor, ranges: readonly (SliceRange | null | undefined)[]): Tensor {
  if (ranges.length > x.rank) throw new Error(`slice: ${ranges.length} ranges for shape ${fmt(x.shape)}`);
  const inStrides = stridesOf(x.shape);
  const outShape: number[] = [];
  const readStrides: number[] = [];
  let base = 0;
  x.shape.forEach((n, d) => {
    const r = ranges[d] ?? {};
    const step = r.step ?? 1;
    if (!Number.isInteger(step) || step <= 0) throw new Error(`slice: step must be a positive integer, got ${step} for dim ${d} of ${fmt(x.shape)}`);
    const norm = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
    const start = norm(r.start ?? 0);
    const end = norm(r.end ?? n);
    const len = Math.max(0, Math.ceil((end - start) / step));
    outShape.push(len);
    readStrides.push(inStrides[d] * step);
    base += start * inStrides[d];
  });
  const out = Tensor.empty(outShape, x.dtype, 'slice');
  stridedCopy('slice', x, outShape, readStrides, base, out, stridesOf(outShape), 0);
  return out;
}

/** Joins tensors along `axis`; all other dims must agree. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: needs at least one tensor');
  const first = xs[0];
  const [a] = normAxes('concat', first.shape, axis);
  for (const t of xs) {
    t.storage('concat');
    if (t.rank !== first.rank || t.dtype !== first.dtype || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new Error(`concat: shapes ${xs.map((s) => fmt(s.shape)).join(', ')} do not agree outside axis ${a}`);
    }
  }
  const outShape = [...first.shape];
  outShape[a] = xs.reduce((p, t) => p + t.shape[a], 0);
  const out = Tensor.empty(outShape, first.dtype, 'concat');
  const outStrides = stridesOf(outShape);
  let offset = 0;
  for (const t of xs) {
    stridedCopy('concat', t, [...t.shape], stridesOf(t.shape), 0, out, outStrides, offset * outStrides[a]);
    offset += t.shape[a];
  }
  return out;
}

/** Stacks same-shaped tensors along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('stack: needs at least one tensor');
  const r = xs[0].rank;
  const a = axis < 0 ? axis + r + 1 : axis;
  const views = xs.map((t) => t.view([...t.shape.slice(0, a), 1, ...t.shape.slice(a)]));
  try {
    return concat(views, a);
  } finally {
    for (const v of views) v.dispose();
  }
}

/**
 * Constant padding. `padding` lists (before, after) pairs starting from the LAST dimension, as
 * `torch.nn.functional.pad`: [left, right, top, bottom] pads W then H.
 */
export function pad(x: Tensor, padding: readonly number[], value = 0): Tensor {
  if (padding.length % 2 !== 0 || padding.length / 2 > x.rank) throw new Error(`pad: padding ${JSON.stringify(padding)} does not fit shape ${fmt(x.shape)}`);
  if (padding.some((p) => !Number.isInteger(p) || p < 0)) throw new Error(`pad: padding must be non-negative integers, got ${JSON.stringify(padding)}`);
  const before = new Array<number>(x.rank).fill(0);
  const outShape = [...x.shape];
  for (let k = 0; k < padding.length / 2; k++) {
    const d = x.rank - 1 - k;
    before[d] = padding[2 * k];
    outShape[d] += padding[2 * k] + padding[2 * k + 1];
  }
  const out = Tensor.empty(outShape, x.dtype, 'pad');
  if (out.size === 0) return out;
  runKernel({
    name: 'pad',
    body: padWgsl(outShape, [...x.shape], before, out.size, wg),
    inputs: { x },
    outputs: { out },
    uniforms: { value: [x.dtype === 'int32' ? 'i32' : 'f32', value] },
    workgroups: grid1d(out.size, wg),
  });
  return out;
}

/** Picks entries along `axis` by an int32 index vector (as `torch.index_select`). */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  if (index.dtype !== 'int32' || index.rank !== 1) throw new Error(`indexSelect: index must be a 1-D int32 tensor, got ${index.dtype} ${fmt(index.shape)}`);
  const [a] = normAxes('indexSelect', x.shape, axis);
  const outShape = [...x.shape];
  outShape[a] = index.size;
  const out = Tensor.empty(outShape, x.dtype, 'indexSelect');
  if (out.size === 0) return out;
  const outer = x.shape.slice(0, a).reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(a + 1).reduce((p, d) => p * d, 1);
  runKernel({
    name: 'indexSelect',
    body: gatherWgsl(outer, x.shape[a], index.size, inner, wg),
    inputs: { x, index },
    outputs: { out },
    workgroups: grid1d(out.size, wg),
  });
  return out;
}

/** Rows of a matrix (or entries of a vector) by index: `gather(table, idx)` = indexSelect on axis 0. */
export const gather = (x: Tensor, index: Tensor) => indexSelect(x, 0, index);

/** One-hot float32 rows [n, classes] from int32 class indices [n]. */
export function oneHot(index: Tensor, classes: number): Tensor {
  if (index.dtype !== 'int32') throw new Error(`oneHot: index must be int32, got ${index.dtype} ${fmt(index.shape)}`);
  if (!Number.isInteger(classes) || classes <= 0) throw new Error(`oneHot: classes must be a positive integer, got ${classes}`);
  const out = Tensor.empty([...index.shape, classes], 'float32', 'oneHot');
  if (out.size === 0) return out;
  runKernel({
    name: 'oneHot',
    body: oneHotWgsl(index.size, classes, wg),
    inputs: { index },
    outputs: { out },
    workgroups: grid1d(out.size, wg),
  });
  return out;
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return x.view(x.shape.filter((d) => d !== 1));
  const [a] = normAxes('squeeze', x.shape, axis);
  if (x.shape[a] !== 1) throw new Error(`squeeze: dim ${axis} of ${fmt(x.shape)} is not 1`);
  return x.view(x.shape.filter((_, i) => i !== a));
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = axis < 0 ? axis + x.rank + 1 : axis;
  if (a < 0 || a > x.rank) throw new Error(`unsqueeze: axis ${axis} out of range for ${fmt(x.shape)}`);
  return x.view([...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

export type { Shape };
