import { describe, expect, it } from 'vitest';
import { resample, type Box, type Filter, type Image } from '../src/index.ts';
import { testRng } from './helpers.ts';

const { rng, seed } = testRng('resample-reference');

/**
 * The resample as written before it was optimised, kept plain: PIL's coefficients, a horizontal
 * pass accumulated in float64 and clamped, then a vertical pass accumulated tap by tap in the
 * float32 output row and clamped. The optimised resample (unrolled taps, float32 rounding in a
 * register) must give exactly these bits.
 */
function reference(img: Image, outW: number, outH: number, filter: Filter, box: Box = [0, 0, img.width, img.height]): Image {
  const support = filter === 'bilinear' ? 1 : 2;
  const fn = (x: number): number => {
    x = Math.abs(x);
    if (filter === 'bilinear') return x < 1 ? 1 - x : 0;
    const a = -0.5;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
  };
  const coeffs = (inSize: number, in0: number, in1: number, outSize: number) => {
    const scale = (in1 - in0) / outSize;
    const fs = Math.max(scale, 1);
    const sup = support * fs;
    return Array.from({ length: outSize }, (_, xx) => {
      const center = in0 + (xx + 0.5) * scale;
      const xmin = Math.max(Math.trunc(center - sup + 0.5), 0);
      const n = Math.min(Math.trunc(center + sup + 0.5), inSize) - xmin;
      // PIL's precompute_coeffs: kernel at (x - centre) * (1 / filterscale), normalised by the
      // float64 sum of the weights, stored as float32
      const raw = Array.from({ length: n }, (_, x) => fn((x + xmin - center + 0.5) * (1 / fs)));
      const sum = raw.reduce((a, v) => a + v, 0);
      const w = Float32Array.from(raw);
      if (sum !== 0) for (let x = 0; x < n; x++) w[x] /= sum;
      return { xmin, w };
    });
  };
  const C = img.channels;
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  const ch = coeffs(img.width, box[0], box[2], outW);
  const mid = new Float32Array(outW * img.height * C);
  for (let y = 0; y < img.height; y++) {
    for (let xx = 0; xx < outW; xx++) {
      for (let c = 0; c < C; c++) {
        let acc = 0;
        ch[xx].w.forEach((w, k) => {
          acc += img.data[(y * img.width + ch[xx].xmin + k) * C + c] * w;
        });
        mid[(y * outW + xx) * C + c] = clamp(acc);
      }
    }
  }
  const cv = coeffs(img.height, box[1], box[3], outH);
  const out = new Float32Array(outW * outH * C);
  for (let yy = 0; yy < outH; yy++) {
    const row = out.subarray(yy * outW * C, (yy + 1) * outW * C);
    cv[yy].w.forEach((w, k) => {
      for (let i = 0; i < row.length; i++) row[i] += mid[(cv[yy].xmin + k) * outW * C + i] * w;
    });
    for (let i = 0; i < row.length; i++) row[i] = clamp(row[i]);
  }
  return { width: outW, height: outH, channels: C, data: out };
}

describe('resample against a plain reference', () => {
  it('gives the same bits for random sizes, boxes, filters and channel counts', () => {
    for (let t = 0; t < 60; t++) {
      const C = rng.next() < 0.5 ? 1 : 3;
      const w = 4 + rng.int(0, 70);
      const h = 4 + rng.int(0, 70);
      // some saturated samples, so the clamps matter
      const img: Image = {
        width: w,
        height: h,
        channels: C,
        data: Float32Array.from({ length: w * h * C }, () => (rng.next() < 0.1 ? rng.int(0, 2) : rng.next())),
      };
      const ow = 1 + rng.int(0, 90);
      const oh = 1 + rng.int(0, 90);
      const x0 = rng.uniform(0, w / 2);
      const y0 = rng.uniform(0, h / 2);
      const box: Box = [x0, y0, rng.uniform(x0 + 1, w), rng.uniform(y0 + 1, h)];
      const filter: Filter = rng.next() < 0.5 ? 'bilinear' : 'bicubic';
      const a = resample(img, ow, oh, filter, box);
      const b = reference(img, ow, oh, filter, box);
      expect([a.width, a.height, a.channels]).toEqual([b.width, b.height, b.channels]);
      const x = new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length);
      const y = new Uint32Array(b.data.buffer);
      let first = -1;
      for (let i = 0; i < x.length && first < 0; i++) if (x[i] !== y[i]) first = i;
      expect(first, `case ${t} (${w}x${h}x${C} -> ${ow}x${oh}, ${filter}, seed ${seed}): differs at ${first}`).toBe(-1);
    }
  });
});
