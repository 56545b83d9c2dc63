// The neutral in-memory form every weight reader produces and every writer consumes. It is plain
// typed arrays on the host (no GPU, no @cxr/tensor) so the readers can be used and tested alone;
// whoever uploads weights to the device converts from here.

/**
 * Element type of a stored tensor. `float16` and `bfloat16` keep their source dtype as a label
 * but hold their values widened to float32 (JS has no usable half array type), so a reader never
 * silently loses the fact that a checkpoint was half precision and a writer can narrow back.
 */
export type HostDtype = 'float64' | 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** The typed array kind that holds each dtype's values in memory. */
export interface HostDataByDtype {
  float64: Float64Array;
  float32: Float32Array;
  float16: Float32Array;
  bfloat16: Float32Array;
  int64: BigInt64Array;
  int32: Int32Array;
  int16: Int16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

export type HostData = HostDataByDtype[HostDtype];

/** One tensor: C-order (row-major, contiguous) values plus shape. */
export interface HostTensor<D extends HostDtype = HostDtype> {
  dtype: D;
  shape: number[];
  data: HostDataByDtype[D];
}

/** Name -> tensor, in file order (Map keeps insertion order, which torchvision's names rely on). */
export type HostStateDict = Map<string, HostTensor>;

/**
 * A tensor whose name, dtype and shape are known but whose data is read only by `load()`; lets
 * conversions stream one tensor at a time instead of holding a whole checkpoint twice.
 */
export interface LazyTensor {
  name: string;
  dtype: HostDtype;
  shape: number[];
  load(): HostTensor;
  /**
   * Where the file holds the tensor's values contiguously as `dtype` (little-endian): reads bytes
   * [at, at + into.length) of them into `into`, so a loader can stream them to where they go (the
   * device's upload memory) without a host array of the whole tensor.
   */
  readStored?(into: Uint8Array, at: number): void;
}

/** Bytes per element as stored on disk (half types are 2 even though they are held as float32). */
export const storedItemSize: Record<HostDtype, number> = {
  float64: 8,
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** True for dtypes whose in-memory array is a Float32Array widened from 16-bit storage. */
export function isHalfDtype(dtype: HostDtype): dtype is 'float16' | 'bfloat16' {
  return dtype === 'float16' || dtype === 'bfloat16';
}

/** Number of elements of a shape; [] is a scalar with one element. */
export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Allocates the zeroed in-memory array for `numel` elements of `dtype`. */
export function allocHostData<D extends HostDtype>(dtype: D, numel: number): HostDataByDtype[D] {
  switch (dtype) {
    case 'float64':
      return new Float64Array(numel) as HostDataByDtype[D];
    case 'float32':
    case 'float16':
    case 'bfloat16':
      return new Float32Array(numel) as HostDataByDtype[D];
    case 'int64':
      return new BigInt64Array(numel) as HostDataByDtype[D];
    case 'int32':
      return new Int32Array(numel) as HostDataByDtype[D];
    case 'int16':
      return new Int16Array(numel) as HostDataByDtype[D];
    case 'int8':
      return new Int8Array(numel) as HostDataByDtype[D];
    case 'uint8':
    case 'bool':
      return new Uint8Array(numel) as HostDataByDtype[D];
    default:
      throw new Error(`unknown dtype ${String(dtype)}`);
  }
}

/** Builds a HostTensor after checking that data length matches the shape. */
export function hostTensor<D extends HostDtype>(dtype: D, shape: readonly number[], data: HostDataByDtype[D]): HostTensor<D> {
  const n = numelOf(shape);
  if (data.length !== n) {
    throw new Error(`hostTensor: shape [${shape.join(',')}] needs ${n} elements, data has ${data.length}`);
  }
  return { dtype, shape: [...shape], data };
}

/** Float32 copy (or the same array when already float32-held) for loading into float models. */
export function toFloat32(t: HostTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  const out = new Float32Array(t.data.length);
  if (t.data instanceof BigInt64Array) {
    for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]);
  } else {
    out.set(t.data);
  }
  return out;
}
