import type { Image } from '../image.ts';
import { BYTE_TO_FLOAT } from './byteToFloat.ts';

/**
 * The parts of PNG decoding that need no inflater: chunk parsing for the PNGs chest X-rays almost
 * always are (non-interlaced, 8- or 16-bit, grey / grey+alpha / RGB / RGBA), unfiltering and the
 * conversion to float grey or RGB. Node inflates with node:zlib (png-fast.ts), a browser with
 * DecompressionStream (decode-async.ts); both hand the inflated bytes to `pngPixels`, so one file
 * gives the same pixels in both.
 */

export type Crc32 = (data: Uint8Array) => number;

const CRC_TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c >>> 0;
}

/** CRC-32 as PNG chunks use it, for platforms without zlib.crc32 (browsers). */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A parsed PNG the fast path can take: its geometry and the still-deflated IDAT data. */
export interface PngStream {
  width: number;
  height: number;
  depth: number;
  /** samples per pixel (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) */
  samples: number;
  stride: number;
  bpp: number;
  /** inflated byte count: height × (stride + 1) */
  expected: number;
  idat: Uint8Array[];
  idatBytes: number;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const IHDR = 0x49484452;
const IDAT = 0x49444154;
const IEND = 0x49454e44;

/** sample count per pixel for the colour types handled here */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

const LUT8 = BYTE_TO_FLOAT;

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/**
 * Parses the chunks; `undefined` for anything not handled here (palette, 1/2/4-bit, interlaced)
 * and anything malformed (bad CRC when `crc32` is given, truncated chunk, missing IEND).
 */
export function parsePng(bytes: Uint8Array, crc32?: Crc32): PngStream | undefined {
  const n = bytes.length;
  if (n < 8 + 25) return undefined;
  for (let i = 0; i < 8; i++) if (bytes[i] !== SIGNATURE[i]) return undefined;
  let o = 8;
  let width = 0;
  let height = 0;
  let depth = 0;
  let colorType = -1;
  let seenHeader = false;
  let ended = false;
  const idat: Uint8Array[] = [];
  let idatBytes = 0;
  while (o + 12 <= n) {
    const len = u32(bytes, o);
    const type = u32(bytes, o + 4);
    if (len > n - o - 12) return undefined; // truncated chunk
    if (crc32 && crc32(bytes.subarray(o + 4, o + 8 + len)) !== u32(bytes, o + 8 + len)) return undefined;
    const d = o + 8;
    if (!seenHeader) {
      if (type !== IHDR || len !== 13) return undefined;
      width = u32(bytes, d);
      height = u32(bytes, d + 4);
      depth = bytes[d + 8];
      colorType = bytes[d + 9];
      const compression = bytes[d + 10];
      const filterMethod = bytes[d + 11];
      const interlace = bytes[d + 12];
      if (compression !== 0 || filterMethod !== 0 || interlace !== 0) return undefined;
      if ((depth !== 8 && depth !== 16) || SAMPLES[colorType] === undefined) return undefined;
      if (width === 0 || height === 0) return undefined;
      seenHeader = true;
    } else if (type === IDAT) {
      idat.push(bytes.subarray(d, d + len));
      idatBytes += len;
    } else if (type === IEND) {
      ended = true;
      break;
    }
    o += 12 + len;
  }
  // A file that stops cleanly after its last chunk, only IEND missing, still holds the whole image (PIL reads it)
  if ((!ended && o !== n) || !idat.length) return undefined;
  const samples = SAMPLES[colorType];
  const bpp = (samples * depth) >> 3;
  const stride = width * bpp;
  const expected = height * (stride + 1);
  if (!Number.isSafeInteger(expected) || expected > 2 ** 31 - 1) return undefined;
  return { width, height, depth, samples, stride, bpp, expected, idat, idatBytes };
}

/** Inflated scanlines to pixels; `undefined` when the data is short or a row filter is unknown. */
export function pngPixels(png: PngStream, raw: Uint8Array): Image | undefined {
  if (raw.length < png.expected) return undefined;
  if (!unfilter(raw, png.height, png.stride, png.bpp)) return undefined;
  return toFloat(raw, png.width, png.height, png.stride, png.samples, png.depth);
}

/** Reverses the PNG row filters in place; false on an unknown filter type. */
function unfilter(raw: Uint8Array, height: number, stride: number, bpp: number): boolean {
  const rowLen = stride + 1;
  for (let y = 0; y < height; y++) {
    const f = raw[y * rowLen];
    const p = y * rowLen + 1;
    const q = p - rowLen; // previous row's data (only read when y > 0)
    switch (f) {
      case 0:
        break;
      case 1:
        for (let i = bpp; i < stride; i++) raw[p + i] = raw[p + i] + raw[p + i - bpp];
        break;
      case 2:
        if (y > 0) for (let i = 0; i < stride; i++) raw[p + i] = raw[p + i] + raw[q + i];
        break;
      case 3:
        if (y > 0) {
          for (let i = 0; i < bpp; i++) raw[p + i] = raw[p + i] + (raw[q + i] >> 1);
          for (let i = bpp; i < stride; i++) raw[p + i] = raw[p + i] + ((raw[p + i - bpp] + raw[q + i]) >> 1);
        } else {
          for (let i = bpp; i < stride; i++) raw[p + i] = raw[p + i] + (raw[p + i - bpp] >> 1);
        }
        break;
      case 4:
        if (y > 0) {
          for (let i = 0; i < bpp; i++) raw[p + i] = raw[p + i] + raw[q + i];
          for (let i = bpp; i < stride; i++) {
            const a = raw[p + i - bpp];
            const b = raw[q + i];
            const c = raw[q + i - bpp];
            const pa = Math.abs(b - c);
            const pb = Math.abs(a - c);
            const pc = Math.abs(a + b - c - c);
            raw[p + i] = raw[p + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          }
        } else {
          // up and upper-left are 0: Paeth predicts the left neighbour
          for (let i = bpp; i < stride; i++) raw[p + i] = raw[p + i] + raw[p + i - bpp];
        }
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Unfiltered scanlines to float HWC: grey sources to 1 channel, colour to 3; alpha dropped. */
function toFloat(raw: Uint8Array, width: number, height: number, stride: number, samples: number, depth: number): Image {
  const channels: 1 | 3 = samples <= 2 ? 1 : 3;
  const data = new Float32Array(width * height * channels);
  const rowLen = stride + 1;
  let k = 0;
  if (depth === 8) {
    for (let y = 0; y < height; y++) {
      let p = y * rowLen + 1;
      if (channels === 1) {
        for (let x = 0; x < width; x++, p += samples) data[k++] = LUT8[raw[p]];
      } else {
        for (let x = 0; x < width; x++, p += samples) {
          data[k++] = LUT8[raw[p]];
          data[k++] = LUT8[raw[p + 1]];
          data[k++] = LUT8[raw[p + 2]];
        }
      }
    }
  } else {
    const inv = 1 / 65535;
    const step = samples * 2;
    for (let y = 0; y < height; y++) {
      let p = y * rowLen + 1;
      if (channels === 1) {
        for (let x = 0; x < width; x++, p += step) data[k++] = ((raw[p] << 8) | raw[p + 1]) * inv;
      } else {
        for (let x = 0; x < width; x++, p += step) {
          data[k++] = ((raw[p] << 8) | raw[p + 1]) * inv;
          data[k++] = ((raw[p + 2] << 8) | raw[p + 3]) * inv;
          data[k++] = ((raw[p + 4] << 8) | raw[p + 5]) * inv;
        }
      }
    }
  }
  return { width, height, channels, data };
}
