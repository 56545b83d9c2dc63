import { gpu } from '../../device/device.ts';
import type { DType } from '../../dtype.ts';
import { checkShape, fmt, sizeOf, type Shape } from '../../shape.ts';
import { float32ToFloat16 } from '../../float16.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, linearMain, runKernel } from '../../kernel/run.ts';

export type NestedArray = number | NestedArray[];

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let d: NestedArray = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    d = d[0] as NestedArray;
  }
  return shape;
}

function flattenChecked(data: NestedArray, shape: number[], depth: number, out: number[]): void {
  if (depth === shape.length) {
    if (typeof data !== 'number') throw new Error(`tensor: ragged nested array (expected a number at depth ${depth} of shape ${fmt(shape)})`);
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new Error(`tensor: ragged nested array (expected length ${shape[depth]} at depth ${depth} of shape ${fmt(shape)})`);
  }
  for (const x of data) flattenChecked(x, shape, depth + 1, out);
}

/**
 * A tensor from host data: a typed array (with `shape`, default 1-D) or nested arrays.
 * `Int32Array` data gives an int32 tensor unless `dtype` says otherwise.
 */
export function tensor(data: Float32Array | Int32Array | ArrayLike<number> | NestedArray, shape?: Shape, dtype?: DType): Tensor {
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (typeof data === 'number' || (Array.isArray(data) && (data.length === 0 || Array.isArray(data[0])))) {
    inferred = inferShape(data as NestedArray);
    const out: number[] = [];
    flattenChecked(data as NestedArray, inferred, 0, out);
    flat = out;
  } else {
    flat = data as ArrayLike<number>;
    inferred = [flat.length];
  }
  const s = shape ? [...shape] : inferred;
  checkShape('tensor', s);
  if (sizeOf(s) !== flat.length) throw new Error(`tensor: ${flat.length} values do not fill shape ${fmt(s)} (${sizeOf(s)} elements)`);
  const dt: DType = dtype ?? (data instanceof Int32Array ? 'int32' : 'float32');
  const t = Tensor.empty(s, dt, 'tensor');
  if (flat.length === 0) return t;
  let host: Float32Array | Int32Array | Uint16Array;
  if (dt === 'int32') host = flat instanceof Int32Array ? flat : Int32Array.from(flat as ArrayLike<number>);
  else if (dt === 'float32') host = flat instanceof Float32Array ? flat : Float32Array.from(flat as ArrayLike<number>);
  else {
    // Whole 4-byte words, as the buffer (writeBuffer sizes are multiples of 4).
    host = new Uint16Array(flat.length + (flat.length % 2));
    float32ToFloat16(flat instanceof Float32Array ? flat : Float32Array.from(flat as ArrayLike<number>), host.subarray(0, flat.length));
  }
  gpu().batcher.upload(t.storage('tensor').buffer, 0, host);
  return t;
}

/** A tensor filled with one value, written by a kernel (no host upload). */
export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  checkShape('full', shape);
  if (Number.isNaN(value) && dtype === 'int32') throw new Error(`full: NaN cannot fill a ${dtype} tensor`);
  const t = Tensor.empty(shape, dtype, 'full');
  const ty = dtype === 'int32' ? 'i32' : 'f32';
  // Four elements per invocation where the size allows: on a CPU adapter every storage store is
  // a per-lane scalar store with a bounds check, so a vec4 store does a quarter of them (lavapipe:
  // zeros of 1 MiB ~0.7 -> ~0.2 ms of CPU, the zero fill of a strided conv's input gradient).
  const vec4 = dtype !== 'int32' && t.size % 4 === 0 && t.size > 0;
  const n = vec4 ? t.size / 4 : t.size;
  runKernel({
    name: 'full',
    // The size is a uniform: one pipeline per dtype (and form) fills every shape (zeros for Adam's state, …).
    body: linearMain(256, `  if (i >= u.n) { return; }\n  ${vec4 ? `out_set4(i, vec4<${ty}>(u.value))` : 'out_set(i, u.value)'};`),
    outputs: { out: t },
    uniforms: { value: [ty, value], n: ['u32', n] },
    workgroups: grid1d(n, 256),
  });
  return t;
}

export const zeros = (shape: Shape, dtype: DType = 'float32') => full(shape, 0, dtype);
export const ones = (shape: Shape, dtype: DType = 'float32') => full(shape, 1, dtype);
export const zerosLike = (t: Tensor) => full(t.shape, 0, t.dtype);
export const onesLike = (t: Tensor) => full(t.shape, 1, t.dtype);

/** Values start, start+step, … below stop (as `torch.arange`). */
export function arange(start: number, stop?: number, step = 1, dtype: DType = 'float32'): Tensor {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  if (!Number.isFinite(start) || !Number.isFinite(stop) || !Number.isFinite(step) || step === 0) {
    throw new Error(`arange: invalid range start=${start} stop=${stop} step=${step}`);
  }
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const t = Tensor.empty([n], dtype, 'arange');
  // An int32 range with integer bounds is computed in i32: through f32 (24-bit mantissa) every
  // value past 2^24 was rounded (arange(0, 2^24 + 100, 1, 'int32') repeated 16777216, 16777220, …),
  // and so was a start past 2^24, which an f32 uniform cannot hold either.
  const exactInt = dtype === 'int32' && Number.isInteger(start) && Number.isInteger(step);
  const int32 = (v: number) => v >= -(2 ** 31) && v <= 2 ** 31 - 1;
  if (exactInt && !(int32(start) && int32(step))) throw new Error(`arange: start=${start} and step=${step} must fit in int32 for an int32 range`);
  const ty = dtype === 'int32' ? 'i32' : 'f32';
  const value = exactInt ? 'u.start + i32(i) * u.step' : `${ty}(u.start + f32(i) * u.step)`;
  const scalar = exactInt ? 'i32' : 'f32';
  runKernel({
    name: 'arange',
    body: linearMain(256, `  if (i >= ${n}u) { return; }\n  out_set(i, ${value});`),
    outputs: { out: t },
    uniforms: { start: [scalar, start], step: [scalar, step] },
    workgroups: grid1d(n, 256),
  });
  return t;
}
