import type { Image } from '../image.ts';

export type Filter = 'bilinear' | 'bicubic';

/** Source rectangle in pixel coordinates (PIL's `box`): x0, y0, x1, y1. */
export type Box = [number, number, number, number];

const SUPPORT: Record<Filter, number> = { bilinear: 1, bicubic: 2 };

function bilinear(x: number): number {
  x = Math.abs(x);
  return x < 1 ? 1 - x : 0;
}

// Keys cubic with a = -0.5, PIL's choice (torchvision on tensors uses -0.75; we follow PIL).
function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coeffs {
  /** first source index per output sample */
  start: Int32Array;
  /** taps per output sample */
  count: Int32Array;
  /** kmax weights per output sample */
  weights: Float32Array;
  kmax: number;
}

/**
 * PIL's precompute_coeffs (libImaging/Resample.c): when shrinking, the kernel is stretched by the
 * scale factor so every source pixel contributes (antialiasing); weights are normalised per
 * output sample so borders are not darkened.
 */
function coefficients(inSize: number, in0: number, in1: number, outSize: number, filter: Filter): Coeffs {
  const fn = filter === 'bilinear' ? bilinear : bicubic;
  const scale = (in1 - in0) / outSize;
  const filterscale = Math.max(scale, 1);
  const support = SUPPORT[filter] * filterscale;
  const kmax = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * kmax);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    // C's (int) truncates toward zero; the clamp makes that equal to floor here.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    const base = xx * kmax;
    for (let x = 0; x < xmax; x++) {
      const w = fn((x + xmin - center + 0.5) * ss);
      weights[base + x] = w;
      ww += w;
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) weights[base + x] /= ww;
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, weights, kmax };
}

const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

/**
 * Resamples `img` (optionally only the `box` region) to outW x outH. Horizontal pass first, then
 * vertical, like PIL; each pass clamps to [0, 1] as PIL's 8-bit path clips, which keeps bicubic
 * overshoot from compounding and keeps parity with PIL on 8-bit images.
 *
 * `reducingGap` is PIL's `reducing_gap`: when the box is more than 2*gap times the output, it is
 * first box-averaged by integer factors (`reduce`), then resampled. Much cheaper for large
 * shrinks (1024 -> 256: ~4x fewer multiply-adds) and matches PIL's `resize(..., reducing_gap=g)`,
 * but NOT plain `resize()` exactly (a slightly different, still antialiased, kernel); leave it
 * undefined where torchvision/PIL parity matters (evaluation).
 */
export function resample(img: Image, outW: number, outH: number, filter: Filter = 'bicubic', box?: Box, reducingGap?: number): Image {
  if (reducingGap !== undefined) {
    const b = box ?? [0, 0, img.width, img.height];
    const fx = Math.trunc((b[2] - b[0]) / outW / reducingGap) || 1;
    const fy = Math.trunc((b[3] - b[1]) / outH / reducingGap) || 1;
    if (fx > 1 || fy > 1) {
      // PIL's Image.resize(size, resample, box, reducing_gap): box-average by integer factors
      // over a "safe" box (the region the filter can reach), then resample the rest of the way.
      const support = SUPPORT[filter] - 0.5;
      const sx = ((b[2] - b[0]) / outW) * support;
      const sy = ((b[3] - b[1]) / outH) * support;
      const rb: Box = [
        Math.max(0, Math.trunc(b[0] - sx)),
        Math.max(0, Math.trunc(b[1] - sy)),
        Math.min(img.width, Math.ceil(b[2] + sx)),
        Math.min(img.height, Math.ceil(b[3] + sy)),
      ];
      const small = reduce(img, fx, fy, rb);
      return resample(small, outW, outH, filter, [(b[0] - rb[0]) / fx, (b[1] - rb[1]) / fy, (b[2] - rb[0]) / fx, (b[3] - rb[1]) / fy]);
    }
  }
  const [x0, y0, x1, y1] = box ?? [0, 0, img.width, img.height];
  const C = img.channels;
  const needH = outW !== img.width || x0 !== 0 || x1 !== img.width;
  const needV = outH !== img.height || y0 !== 0 || y1 !== img.height;
  let src = img;
  // Rows the vertical pass will read; the horizontal pass only needs to produce these.
  const cv = needV ? coefficients(img.height, y0, y1, outH, filter) : undefined;
  let rowLo = 0;
  let rowHi = img.height;
  if (cv) {
    rowLo = cv.start[0];
    rowHi = cv.start[outH - 1] + cv.count[outH - 1];
  } else {
    rowLo = y0;
    rowHi = y1;
  }
  if (needH) {
    const ch = coefficients(img.width, x0, x1, outW, filter);
    const rows = rowHi - rowLo;
    const out = new Float32Array(outW * rows * C);
    const s = img.data;
    const { start, count, weights, kmax } = ch;
    for (let y = 0; C === 1 && y < rows; y++) {
      // grey (the usual case) in a loop of its own, the channel test out of the inner loops
      const srow = (y + rowLo) * img.width;
      const orow = y * outW;
      for (let xx = 0; xx < outW; xx++) {
        const n = count[xx];
        const wb = xx * kmax;
        let acc = 0;
        for (let k = 0, p = srow + start[xx]; k < n; k++) acc += s[p + k] * weights[wb + k];
        out[orow + xx] = clamp01(acc);
      }
    }
    for (let y = 0; C === 3 && y < rows; y++) {
      const srow = (y + rowLo) * img.width * C;
      const orow = y * outW * C;
      for (let xx = 0; xx < outW; xx++) {
        const st = start[xx];
        const n = count[xx];
        const wb = xx * kmax;
        let r = 0;
        let g = 0;
        let b = 0;
        let p = srow + st * 3;
        for (let k = 0; k < n; k++, p += 3) {
          const w = weights[wb + k];
          r += s[p] * w;
          g += s[p + 1] * w;
          b += s[p + 2] * w;
        }
        const o = orow + xx * 3;
        out[o] = clamp01(r);
        out[o + 1] = clamp01(g);
        out[o + 2] = clamp01(b);
      }
    }
    src = { width: outW, height: rows, channels: C, data: out };
  } else {
    // Only the vertical pass: view the needed rows of the (possibly x-cropped) source.
    src = { width: img.width, height: rowHi - rowLo, channels: C, data: img.data.subarray(rowLo * img.width * C, rowHi * img.width * C) };
  }
  if (!cv) return needH ? src : { ...src, data: src.data.slice() };
  const W = src.width;
  const rowLen = W * C;
  const out = new Float32Array(outH * rowLen);
  const s = src.data;
  const { start, count, weights, kmax } = cv;
  const fround = Math.fround;
  for (let yy = 0; yy < outH; yy++) {
    const st = start[yy] - rowLo;
    const n = count[yy];
    const wb = yy * kmax;
    const o = yy * rowLen;
    // Rounded to float32 after every tap, as accumulating in the float32 output row would: the
    // same values, without a load and a store per tap. The usual 4-tap case is unrolled.
    if (n === 4) {
      const w0 = weights[wb];
      const w1 = weights[wb + 1];
      const w2 = weights[wb + 2];
      const w3 = weights[wb + 3];
      const p0 = st * rowLen;
      const p1 = p0 + rowLen;
      const p2 = p1 + rowLen;
      const p3 = p2 + rowLen;
      for (let i = 0; i < rowLen; i++) {
        let acc = fround(s[p0 + i] * w0);
        acc = fround(acc + s[p1 + i] * w1);
        acc = fround(acc + s[p2 + i] * w2);
        acc = fround(acc + s[p3 + i] * w3);
        out[o + i] = clamp01(acc);
      }
      continue;
    }
    for (let i = 0; i < rowLen; i++) {
      let acc = 0;
      for (let k = 0, p = st * rowLen + i; k < n; k++, p += rowLen) acc = fround(acc + s[p] * weights[wb + k]);
      out[o + i] = clamp01(acc);
    }
  }
  return { width: W, height: outH, channels: C, data: out };
}

/**
 * PIL's Image.reduce((fx, fy), box): each output pixel is the mean of an fx x fy block of the
 * (integer) `box`; the last column/row average the pixels their partial blocks hold. About one
 * add per source pixel, so it is the cheap first stage of a large shrink (see `reducingGap`).
 */
export function reduce(img: Image, fx: number, fy: number, box: Box = [0, 0, img.width, img.height]): Image {
  const [bx0, by0, bx1, by1] = box;
  const C = img.channels;
  const W = img.width;
  const ow = Math.ceil((bx1 - bx0) / fx);
  const oh = Math.ceil((by1 - by0) / fy);
  const out = new Float32Array(ow * oh * C);
  if (C === 1 && fx === 2 && fy === 2 && (bx1 - bx0) % 2 === 0 && (by1 - by0) % 2 === 0) {
    // the common case (grey, halving, no partial blocks); sums of 4 float32 values are exact in
    // float64, so this gives the same bits as the general loop below
    const d = img.data;
    for (let oy = 0; oy < oh; oy++) {
      let p = (by0 + 2 * oy) * W + bx0;
      let q = p + W;
      const o = oy * ow;
      for (let ox = 0; ox < ow; ox++, p += 2, q += 2) out[o + ox] = (d[p] + d[p + 1] + (d[q] + d[q + 1])) * 0.25;
    }
    return { width: ow, height: oh, channels: 1, data: out };
  }
  const acc = new Float64Array(ow * C);
  const d = img.data;
  for (let oy = 0; oy < oh; oy++) {
    const ya = by0 + oy * fy;
    const yb = Math.min(ya + fy, by1);
    acc.fill(0);
    for (let y = ya; y < yb; y++) {
      const row = y * W * C;
      if (C === 1) {
        for (let ox = 0, x = bx0; ox < ow; ox++) {
          const xe = Math.min(x + fx, bx1);
          let s = 0;
          for (; x < xe; x++) s += d[row + x];
          acc[ox] += s;
        }
      } else {
        for (let ox = 0, x = bx0; ox < ow; ox++) {
          const xe = Math.min(x + fx, bx1);
          let r = 0;
          let g = 0;
          let b = 0;
          for (let p = row + x * 3; x < xe; x++, p += 3) {
            r += d[p];
            g += d[p + 1];
            b += d[p + 2];
          }
          acc[ox * 3] += r;
          acc[ox * 3 + 1] += g;
          acc[ox * 3 + 2] += b;
        }
      }
    }
    const o = oy * ow * C;
    const ny = yb - ya;
    for (let ox = 0; ox < ow; ox++) {
      const inv = 1 / (Math.min(fx, bx1 - bx0 - ox * fx) * ny);
      for (let c = 0; c < C; c++) out[o + ox * C + c] = acc[ox * C + c] * inv;
    }
  }
  return { width: ow, height: oh, channels: C, data: out };
}

/**
 * torchvision's Resize: an integer resizes the shorter side (the longer one is truncated, as
 * torchvision does), a [height, width] pair resizes exactly.
 */
export function resize(img: Image, size: number | [number, number], filter: Filter = 'bicubic', reducingGap?: number): Image {
  const [h, w] = outputSize(img.width, img.height, size);
  if (h === img.height && w === img.width) return img;
  return resample(img, w, h, filter, undefined, reducingGap);
}

export function outputSize(width: number, height: number, size: number | [number, number]): [number, number] {
  if (Array.isArray(size)) return size;
  if (width <= height) return [Math.max(1, Math.trunc((size * height) / width)), size];
  return [size, Math.max(1, Math.trunc((size * width) / height))];
}
