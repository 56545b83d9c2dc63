// 16-bit float conversions: widening must be exact and narrowing must round to nearest even,
// otherwise an F16 checkpoint would not survive a read/write round trip bit for bit.
import { describe, expect, it } from 'vitest';
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from '../src/weights/half.ts';

describe('float16', () => {
  it('widens all 65536 bit patterns and narrows them back unchanged (NaN stays NaN)', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const wide = float16ToFloat32(all);
    const back = float32ToFloat16(wide);
    for (let i = 0; i < 65536; i++) {
      const isNaN16 = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (isNaN16) expect(Number.isNaN(wide[i]) && (back[i] & 0x7c00) === 0x7c00 && (back[i] & 0x3ff) !== 0).toBe(true);
      else if (back[i] !== i) throw new Error(`pattern ${i.toString(16)} came back as ${back[i].toString(16)}`);
    }
  });

  it('decodes known values', () => {
    const v = float16ToFloat32(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x3555]));
    expect(Array.from(v)).toEqual([1, -2, 65504, 2 ** -24, -0, Infinity, 0.333251953125]);
  });

  it('rounds to nearest even, overflows to infinity, underflows through subnormals', () => {
    const enc = (x: number) => float32ToFloat16(new Float32Array([x]))[0];
    expect(enc(1 + 2 ** -11)).toBe(0x3c00); // halfway, rounds down to even
    expect(enc(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway, rounds up to even
    expect(enc(65519)).toBe(0x7bff);
    expect(enc(65520)).toBe(0x7c00);
    expect(enc(2 ** -25)).toBe(0); // exactly half the smallest subnormal: ties to even (0)
    expect(enc(1.5 * 2 ** -24)).toBe(2); // halfway between subnormals 1 and 2: to even
    expect(enc(2 ** -26)).toBe(0);
    expect(enc(-0)).toBe(0x8000);
  });
});

describe('bfloat16', () => {
  it('is the top half of a float32, rounded to nearest even on the way down', () => {
    expect(Array.from(bfloat16ToFloat32(new Uint16Array([0x3f80, 0xc040, 0x7f80])))).toEqual([1, -3, Infinity]);
    const enc = (x: number) => float32ToBfloat16(new Float32Array([x]))[0];
    expect(enc(1 + 2 ** -8)).toBe(0x3f80); // halfway to even
    expect(enc(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(enc(3.4e38)).toBe(0x7f80); // rounds past the largest bf16 to infinity
    expect(enc(Number.NaN) & 0x7f80).toBe(0x7f80);
    expect(enc(Number.NaN) & 0x7f).not.toBe(0);
  });
});
