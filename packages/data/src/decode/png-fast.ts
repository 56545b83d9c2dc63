import * as zlib from 'node:zlib';
import type { Image } from '../image.ts';
import { parsePng, pngPixels } from './png-scanlines.ts';

/**
 * Fast path for the PNGs that chest X-rays almost always are: non-interlaced, 8- or 16-bit,
 * grey / grey+alpha / RGB / RGBA. The IDAT stream is inflated with node:zlib (native), the
 * scanlines are unfiltered in place, and the samples go straight to float grey or RGB; pngjs
 * instead expands every image to RGBA (4 samples a pixel, a Uint16Array for 16-bit) first, which
 * was 3-4x slower on a 1024 px grey file.
 *
 * Returns `undefined` for anything it does not handle (palette, 1/2/4-bit, interlaced) and for
 * anything malformed (bad CRC, truncated chunk, missing IEND, zlib error, short pixel data): the
 * caller then decodes with pngjs, so errors and edge cases keep pngjs's behaviour and messages.
 * Output is bit-identical to the pngjs path (same `sample * (1 / max)` in float32), which the
 * tests check on every colour type and depth and on the cxr-real files.
 */

// zlib.crc32 exists from Node 20.15 / 22.2; without it chunks are not CRC-checked here (pngjs
// still checks them on the fallback path, which is only taken for malformed or unusual files).
const crc32 = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** a Uint8Array over a Buffer's bytes, no copy */
const view = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

export function decodePngFast(bytes: Uint8Array): Image | undefined {
  const png = parsePng(bytes, crc32);
  if (!png) return undefined;
  let raw: Uint8Array;
  try {
    const src: Uint8Array = png.idat.length === 1 ? png.idat[0] : view(Buffer.concat(png.idat, png.idatBytes));
    // one output chunk of the known size: no growing and re-concatenating inside zlib
    raw = view(zlib.inflateSync(src as Parameters<typeof zlib.inflateSync>[0], { chunkSize: Math.max(64, png.expected + 1) }));
  } catch {
    return undefined;
  }
  return pngPixels(png, raw);
}
