import type { Image } from '../image.ts';
import { ImageDecodeError } from './errors.ts';
import { decodeJpeg } from './jpeg.ts';
import { crc32, parsePng, pngPixels } from './png-scanlines.ts';
import { describeUnknown, sniffFormat } from './sniff.ts';
import { pngHeader } from './header.ts';
import { checkPixelCount } from './limits.ts';

/**
 * Inflates a zlib stream with the platform's DecompressionStream (every browser; Node 18+ too).
 * `expected`: the bytes the image needs. Chromium's stream fails on bytes after the end of the
 * zlib data (some encoders leave padding in the last IDAT), which zlib in Node and PIL ignore;
 * once the output is complete such an error is about the padding, so the pixels stand.
 */
async function inflate(chunks: Uint8Array[], expected: number): Promise<Uint8Array> {
  const ds = new DecompressionStream('deflate');
  const writer = ds.writable.getWriter();
  // A corrupt stream rejects these writes too; the readable side reports it, once.
  for (const c of chunks) writer.write(c as Uint8Array<ArrayBuffer>).catch(() => {});
  writer.close().catch(() => {});
  const reader = ds.readable.getReader();
  const parts: Uint8Array[] = [];
  let length = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      length += value.length;
    }
  } catch (e) {
    if (length < expected) throw e;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * `decodeImage` without Node built-ins, for browsers: the same PNG scanline code and JPEG decoder
 * as in Node, with DecompressionStream where Node uses zlib, so a file gives the same pixels.
 * PNGs: non-interlaced 8- and 16-bit grey, grey+alpha, RGB and RGBA (what X-rays are); palette,
 * 1/2/4-bit and interlaced PNGs are refused with a message (Node decodes those through pngjs).
 */
export async function decodeImageAsync(bytes: Uint8Array, name = '<buffer>'): Promise<Image> {
  const format = sniffFormat(bytes);
  if (format === 'jpeg') return decodeJpeg(bytes, name);
  if (format !== 'png') throw new ImageDecodeError(name, describeUnknown(bytes));
  const header = pngHeader(bytes, name);
  checkPixelCount(name, header.width, header.height);
  const png = parsePng(bytes, crc32);
  if (!png) {
    throw new ImageDecodeError(
      name,
      'PNG is palette-based, 1/2/4-bit, interlaced or corrupt: here only non-interlaced 8/16-bit grey and RGB(A) PNGs decode (convert it, or use the cxr command line)',
    );
  }
  let raw: Uint8Array;
  try {
    raw = await inflate(png.idat, png.expected);
  } catch (e) {
    throw new ImageDecodeError(name, `corrupt PNG image data (${(e as Error).message})`);
  }
  const img = pngPixels(png, raw);
  if (!img) throw new ImageDecodeError(name, 'corrupt or truncated PNG: pixel data shorter than IHDR size or an unknown row filter');
  return img;
}
