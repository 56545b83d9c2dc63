import { PNG } from 'pngjs';
import type { Image } from '../image.ts';
import { ImageDecodeError } from './errors.ts';
import { decodePngFast } from './png-fast.ts';
import { pngHeader } from './header.ts';
import { checkPixelCount } from './limits.ts';

/**
 * PNG via pngjs. `skipRescale` keeps 16-bit samples as they are stored, so we divide by 65535
 * ourselves instead of pngjs's lossy >>8; the same option leaves 1/2/4-bit grey unscaled,
 * hence the per-depth maximum below.
 *
 * Alpha is dropped (not composited), as PIL's `convert('RGB')` in torchvision's loader does, so
 * the pixels match what a PyTorch pipeline on the same file would see.
 */
export function decodePng(bytes: Uint8Array, name: string): Image {
  checkPngSize(bytes, name);
  return decodePngFast(bytes) ?? decodePngWithPngjs(bytes, name);
}

/** The IHDR's width × height against the pixel cap, before either decoder allocates anything. */
function checkPngSize(bytes: Uint8Array, name: string): void {
  const h = pngHeader(bytes, name);
  checkPixelCount(name, h.width, h.height);
}

const IEND_CHUNK = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

/** Whether the chunk type IEND appears anywhere after the header (trailing bytes after it are allowed). */
function hasIend(b: Uint8Array): boolean {
  for (let i = b.length - 8; i >= 8; i--) if (b[i] === 0x49 && b[i + 1] === 0x45 && b[i + 2] === 0x4e && b[i + 3] === 0x44) return true;
  return false;
}

/**
 * The pngjs decoder: every PNG the fast path (png-fast.ts) does not take, i.e. palette, 1/2/4-bit,
 * interlaced and malformed files, whose errors are reported with pngjs's reasons.
 */
export function decodePngWithPngjs(bytes: Uint8Array, name: string): Image {
  checkPngSize(bytes, name);
  let png: ReturnType<typeof PNG.sync.read>;
  const noEnd = !hasIend(bytes);
  try {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // pngjs waits for IEND forever ("read requests waiting on finished stream"); PIL decodes without it
    png = PNG.sync.read(noEnd ? Buffer.concat([buf, IEND_CHUNK]) : buf, { skipRescale: true });
  } catch (e) {
    if (noEnd) throw new ImageDecodeError(name, 'truncated PNG: the file ends before its image data is complete (no IEND chunk)');
    throw new ImageDecodeError(name, `corrupt or truncated PNG (${(e as Error).message})`);
  }
  const { width, height } = png;
  const meta = png as unknown as { colorType: number; depth: number };
  const colorType = meta.colorType;
  const depth = meta.depth;
  const src = png.data as unknown as ArrayLike<number>;
  if (src.length < width * height * 4) throw new ImageDecodeError(name, 'truncated PNG: pixel data shorter than IHDR size');
  const max = colorType === 3 ? 255 : 2 ** depth - 1;
  const inv = 1 / max;
  const n = width * height;
  const grey = colorType === 0 || colorType === 4;
  if (grey) {
    const data = new Float32Array(n);
    for (let i = 0, j = 0; i < n; i++, j += 4) data[i] = src[j] * inv;
    return { width, height, channels: 1, data };
  }
  const data = new Float32Array(n * 3);
  for (let i = 0, j = 0, k = 0; i < n; i++, j += 4, k += 3) {
    data[k] = src[j] * inv;
    data[k + 1] = src[j + 1] * inv;
    data[k + 2] = src[j + 2] * inv;
  }
  return { width, height, channels: 3, data };
}
