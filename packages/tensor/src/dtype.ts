/**
 * Element types. float32 is the compute type today; int32 carries labels and indices.
 * float16 is named so code can be written against it when `shader-f16` kernels land.
 */
export type DType = 'float32' | 'int32' | 'float16';

export const bytesPerElement: Record<DType, number> = { float32: 4, int32: 4, float16: 2 };

/** WGSL scalar type that a kernel uses to read and write a tensor of this dtype. */
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
