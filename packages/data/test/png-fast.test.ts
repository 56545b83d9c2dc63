import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as zlib from 'node:zlib';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeImage, ImageDecodeError, parseCsv, type Image } from '../src/index.ts';
import { decodePngFast } from '../src/decode/png-fast.ts';
import { decodePngWithPngjs } from '../src/decode/png.ts';
import { REAL_ROOT, realDataAvailable, testRng } from './helpers.ts';

const { rng } = testRng('png-fast');
const crc32 = (zlib as unknown as { crc32: (d: Uint8Array) => number }).crc32;
const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const deflateSync = (d: Uint8Array): Uint8Array => u8(zlib.deflateSync(d as Parameters<typeof zlib.deflateSync>[0]));
function cat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const SIG = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
const SAMPLES = { 0: 1, 2: 3, 4: 2, 6: 4 } as const;
type ColorType = keyof typeof SAMPLES;

/** Bit-exact comparison of two decoded images (Float32Array contents compared as bytes). */
function expectSame(a: Image, b: Image, what: string): void {
  expect([a.width, a.height, a.channels], what).toEqual([b.width, b.height, b.channels]);
  const x = new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length);
  const y = new Uint32Array(b.data.buffer, b.data.byteOffset, b.data.length);
  let first = -1;
  for (let i = 0; i < x.length && first < 0; i++) if (x[i] !== y[i]) first = i;
  expect(first, `${what}: pixel data differs from pngjs at sample ${first}`).toBe(-1);
}

/** Random samples mixing flat runs, gradients and noise, so every filter has work to do. */
function randomSamples(n: number, depth: 8 | 16): Uint16Array {
  const max = depth === 8 ? 255 : 65535;
  const s = new Uint16Array(n);
  let v = rng.int(0, max + 1);
  for (let i = 0; i < n; i++) {
    const r = rng.next();
    if (r < 0.3) v = rng.int(0, max + 1);
    else if (r < 0.7) v = Math.min(max, Math.max(0, v + rng.int(-max >> 5, (max >> 5) + 1)));
    s[i] = v;
    if (rng.next() < 0.02) s[i] = rng.next() < 0.5 ? 0 : max;
  }
  return s;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(12 + data.length);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) b[4 + i] = type.charCodeAt(i);
  b.set(data, 8);
  dv.setUint32(8 + data.length, crc32(b.subarray(4, 8 + data.length)));
  return b;
}

/**
 * An independent minimal PNG encoder: the filter of each row is chosen by `filterOf(y)` (so all
 * five filters, including on the first row, are exercised) and IDAT is split into `parts` chunks.
 */
function encodePng(w: number, h: number, colorType: ColorType, depth: 8 | 16, samples: Uint16Array, filterOf: (y: number) => number, parts = 1): Uint8Array {
  const spp = SAMPLES[colorType];
  const bpp = (spp * depth) / 8;
  const stride = w * bpp;
  const plain = new Uint8Array(h * stride);
  for (let i = 0; i < w * h * spp; i++) {
    if (depth === 8) plain[i] = samples[i];
    else {
      plain[2 * i] = samples[i] >> 8;
      plain[2 * i + 1] = samples[i] & 255;
    }
  }
  const raw = new Uint8Array(h * (stride + 1));
  for (let y = 0; y < h; y++) {
    const f = filterOf(y);
    raw[y * (stride + 1)] = f;
    for (let i = 0; i < stride; i++) {
      const x = plain[y * stride + i];
      const a = i >= bpp ? plain[y * stride + i - bpp] : 0;
      const b = y > 0 ? plain[(y - 1) * stride + i] : 0;
      const c = y > 0 && i >= bpp ? plain[(y - 1) * stride + i - bpp] : 0;
      let pred = 0;
      if (f === 1) pred = a;
      else if (f === 2) pred = b;
      else if (f === 3) pred = (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      raw[y * (stride + 1) + 1 + i] = (x - pred) & 255;
    }
  }
  const z = deflateSync(raw);
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, w);
  new DataView(ihdr.buffer).setUint32(4, h);
  ihdr[8] = depth;
  ihdr[9] = colorType;
  const idats: Uint8Array[] = [];
  const step = Math.ceil(z.length / parts);
  for (let o = 0; o < z.length; o += step) idats.push(chunk('IDAT', z.subarray(o, o + step)));
  const text = chunk('tEXt', new TextEncoder().encode('Comment\0synthetic'));
  return cat([SIG, chunk('IHDR', ihdr), text, ...idats, chunk('IEND', new Uint8Array(0))]);
}

function pngjsEncode(w: number, h: number, colorType: ColorType, depth: 8 | 16, samples: Uint16Array, filterType: number): Uint8Array {
  const data = depth === 16 ? Buffer.from(new Uint16Array(samples).buffer) : Buffer.from(Uint8Array.from(samples));
  const hasAlpha = colorType === 4 || colorType === 6;
  return u8(
    PNG.sync.write({ width: w, height: h, data } as PNG, { colorType, inputColorType: colorType, bitDepth: depth, inputHasAlpha: hasAlpha, filterType }),
  );
}

describe('fast PNG decoder: bit-identical to pngjs', () => {
  it('every colour type at 8 and 16 bits, every filter type, written by pngjs', () => {
    for (const ct of [0, 2, 4, 6] as ColorType[]) {
      for (const depth of [8, 16] as const) {
        for (const filterType of [-1, 0, 1, 2, 3, 4]) {
          const w = 1 + rng.int(0, 40);
          const h = 1 + rng.int(0, 30);
          const s = randomSamples(w * h * SAMPLES[ct], depth);
          const file = pngjsEncode(w, h, ct, depth, s, filterType);
          const what = `ct${ct} ${depth}-bit filter ${filterType} ${w}x${h}`;
          const fast = decodePngFast(file);
          expect(fast, what).toBeDefined();
          expectSame(fast!, decodePngWithPngjs(file, what), what);
          // and the values are the stored samples over 2^depth - 1, alpha dropped
          const ch = fast!.channels;
          const inv = 1 / (depth === 8 ? 255 : 65535);
          for (let p = 0; p < w * h; p++) for (let c = 0; c < ch; c++) expect(fast!.data[p * ch + c]).toBe(Math.fround(s[p * SAMPLES[ct] + c] * inv));
        }
      }
    }
  });

  it('random per-row filters (first row included) and IDAT split over several chunks', () => {
    for (let t = 0; t < 24; t++) {
      const ct = ([0, 2, 4, 6] as ColorType[])[t % 4];
      const depth = t % 8 < 4 ? 8 : 16;
      const w = 1 + rng.int(0, 64);
      const h = 1 + rng.int(0, 48);
      const s = randomSamples(w * h * SAMPLES[ct], depth);
      const filters = Array.from({ length: h }, () => rng.int(0, 5));
      const file = encodePng(w, h, ct, depth, s, (y) => filters[y], 1 + rng.int(0, 5));
      const what = `ct${ct} ${depth}-bit ${w}x${h} filters ${filters.join('')}`;
      const fast = decodePngFast(file);
      expect(fast, what).toBeDefined();
      expectSame(fast!, decodePngWithPngjs(file, what), what);
    }
  });

  it('leaves palette, low bit depths and malformed files to pngjs (same result or same error)', () => {
    // 1-bit grey: not the fast path, pngjs decodes it
    const w = 13;
    const h = 7;
    const bits = new Uint8Array(Math.ceil(w / 8) * h + h);
    for (let y = 0; y < h; y++) for (let i = 0; i < Math.ceil(w / 8); i++) bits[y * (Math.ceil(w / 8) + 1) + 1 + i] = rng.int(0, 256);
    const ihdr = new Uint8Array([0, 0, 0, w, 0, 0, 0, h, 1, 0, 0, 0, 0]);
    const onebit = cat([SIG, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(bits)), chunk('IEND', new Uint8Array(0))]);
    expect(decodePngFast(onebit)).toBeUndefined();
    expectSame(decodeImage(onebit, '1bit.png'), decodePngWithPngjs(onebit, '1bit.png'), '1-bit');

    const good = encodePng(9, 9, 0, 8, randomSamples(81, 8), () => 4);
    expect(decodePngFast(good)).toBeDefined();
    const badCrc = good.slice();
    badCrc[badCrc.length - 20] ^= 0x55; // inside the IDAT data
    // only IEND missing: the whole image is there, both decoders read it (as PIL does)
    const noEnd = good.subarray(0, good.length - 12);
    expectSame(decodePngFast(noEnd)!, decodePngWithPngjs(noEnd, 'noend.png'), 'noend.png');
    const cut = good.subarray(0, good.length - 20);
    for (const [name, bytes] of [
      ['crc.png', badCrc],
      ['cut.png', cut],
    ] as const) {
      expect(decodePngFast(bytes), name).toBeUndefined();
      let pngjsResult: unknown;
      try {
        pngjsResult = decodePngWithPngjs(bytes, name);
      } catch (e) {
        pngjsResult = e;
      }
      if (pngjsResult instanceof Error) {
        expect(() => decodeImage(bytes, name)).toThrow(ImageDecodeError);
        expect(() => decodeImage(bytes, name)).toThrow(pngjsResult.message);
      } else expectSame(decodeImage(bytes, name), pngjsResult as Image, name);
    }
  });
});

const have = realDataAvailable();

describe.skipIf(!have)('fast PNG decoder on cxr-real', () => {
  it('decodes every real PNG exactly as pngjs does (palette files via the fallback)', () => {
    const rows = parseCsv(readFileSync(path.join(REAL_ROOT, 'manifest.csv'), 'utf8'));
    const head = rows.shift()!;
    const pngs = rows.filter((r) => r[head.indexOf('format')] === 'PNG').map((r) => r[head.indexOf('file')]);
    expect(pngs.length).toBeGreaterThan(250);
    let fastCount = 0;
    for (const f of pngs) {
      const bytes = new Uint8Array(readFileSync(path.join(REAL_ROOT, f)));
      const fast = decodePngFast(bytes);
      if (fast) fastCount++;
      expectSame(fast ?? decodeImage(bytes, f), decodePngWithPngjs(bytes, f), f);
    }
    // everything but the two palette files takes the fast path
    expect(fastCount).toBe(pngs.length - 2);
  });
});

/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** The same image as an interlaced (Adam7) PNG, each reduced image's rows filtered with Sub. */
function encodeInterlaced(w: number, h: number, colorType: ColorType, depth: 8 | 16, samples: Uint16Array): Uint8Array {
  const spp = SAMPLES[colorType];
  const bpp = (spp * depth) / 8;
  const rows: number[] = [];
  for (const [x0, y0, dx, dy] of ADAM7) {
    const pw = Math.max(0, Math.ceil((w - x0) / dx));
    for (let y = y0; y < h && pw > 0; y += dy) {
      const line: number[] = [];
      for (let x = x0; x < w; x += dx) {
        for (let s = 0; s < spp; s++) {
          const v = samples[(y * w + x) * spp + s];
          if (depth === 8) line.push(v);
          else line.push(v >> 8, v & 255);
        }
      }
      rows.push(1, ...line.map((b, i) => (b - (i >= bpp ? line[i - bpp] : 0)) & 255));
    }
  }
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, w);
  new DataView(ihdr.buffer).setUint32(4, h);
  ihdr[8] = depth;
  ihdr[9] = colorType;
  ihdr[12] = 1;
  return cat([SIG, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Uint8Array.from(rows))), chunk('IEND', new Uint8Array(0))]);
}

describe('interlaced (Adam7) PNGs', () => {
  it('decode to the same pixels as the non-interlaced file, every colour type, 8 and 16 bit, odd sizes', () => {
    for (const colorType of [0, 2, 4, 6] as ColorType[]) {
      for (const depth of [8, 16] as const) {
        for (const [w, h] of [
          [1, 1],
          [13, 7],
          [9, 17],
          [3, 2],
        ]) {
          const samples = randomSamples(w * h * SAMPLES[colorType], depth);
          const what = `colour type ${colorType}, ${depth}-bit, ${w}x${h}`;
          const plain = decodeImage(
            encodePng(w, h, colorType, depth, samples, () => 0),
            'plain.png',
          );
          const interlaced = decodeImage(encodeInterlaced(w, h, colorType, depth, samples), 'interlaced.png');
          expectSame(interlaced, plain, what);
        }
      }
    }
  });
});
