// IEEE binary16 on the host: uploads and readbacks of float16 tensors, and checkpoints' F16 data
// (@cxr/models reads and writes those with these). Narrowing rounds to nearest, ties to even, as
// numpy, PyTorch and the GPU's f32 -> f16 conversion do; widening is exact (binary16 is a subset of
// float32), so a widen-then-narrow round trip is bit-exact.

let f16Table: Float32Array | undefined;

/** 65536-entry lookup table: a table beats bit twiddling per element for big layers. */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // zero or subnormal: value = mant * 2^-24, exactly representable in float32
      table[h] = (sign ? -1 : 1) * mant * 2 ** -24;
    } else if (exp === 31) {
      bits[h] = sign | 0x7f800000 | (mant << 13);
    } else {
      bits[h] = sign | ((exp + 112) << 23) | (mant << 13);
    }
  }
  f16Table = table;
  return table;
}

/** Widens little-endian float16 values (as uint16) into `out`. */
export function float16ToFloat32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const table = halfTable();
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
  return out;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** One float32 -> float16 bit pattern, round-to-nearest-even, overflow to inf, NaN kept quiet. */
export function float32ToFloat16Bits(value: number): number {
  scratch[0] = value;
  const x = scratchBits[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflows to signed zero even after rounding
    mant |= 0x800000; // make the implicit leading one explicit for the subnormal shift
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // carry into exponent is correct
  return sign | h;
}

/** Narrows float32 values to float16 bit patterns. */
export function float32ToFloat16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) out[i] = float32ToFloat16Bits(src[i]);
  return out;
}

/** `value` rounded to the nearest float16 (host references and tolerances). */
export function roundToHalf(value: number): number {
  return halfTable()[float32ToFloat16Bits(value)];
}
