// bfloat16 <-> float32 for checkpoints; float16 lives in @cxr/tensor (it is a tensor dtype there)
// and is re-exported here for the weight readers and writers.
export { float16ToFloat32, float32ToFloat16, float32ToFloat16Bits } from '@cxr/tensor';

/** Widens bfloat16 values (the top half of a float32) into `out`. */
export function bfloat16ToFloat32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return out;
}

/** Narrows float32 values to bfloat16 bit patterns, round-to-nearest-even, NaN kept NaN. */
export function float32ToBfloat16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i];
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}
