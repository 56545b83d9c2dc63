/**
 * Element types. int32 carries labels and indices. float16 is a storage type: kernels read it as
 * f32 and write f32 values that are rounded on store, so every float kernel computes (and
 * accumulates) in f32 whichever of the two its tensors are stored in. It needs the adapter's
 * `shader-f16` feature.
 */
export type DType = 'float32' | 'int32' | 'float16';

export const bytesPerElement: Record<DType, number> = { float32: 4, int32: 4, float16: 2 };

/** WGSL element type of a tensor's storage buffer. */
export function wgslType(dtype: DType): string {
  switch (dtype) {
    case 'float32':
      return 'f32';
    case 'int32':
      return 'i32';
    case 'float16':
      return 'f16';
  }
}

/** WGSL type a kernel's `NAME_get` returns and `NAME_set` takes: f32 for both float dtypes. */
export function computeType(dtype: DType): 'f32' | 'i32' {
  return dtype === 'int32' ? 'i32' : 'f32';
}

export function isFloat(dtype: DType): boolean {
  return dtype !== 'int32';
}
