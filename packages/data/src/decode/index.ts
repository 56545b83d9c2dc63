import type { Image } from '../image.ts';
import { ImageDecodeError } from './errors.ts';
import { decodeJpeg } from './jpeg.ts';
import { decodePng } from './png.ts';
import { describeUnknown, sniffFormat } from './sniff.ts';

/**
 * Decodes PNG (1–16 bit; grey, grey+alpha, RGB, RGBA, palette, interlaced) or JPEG (baseline,
 * progressive) chosen by magic bytes. Returns HWC float32 in [0, 1]; 1 channel for grey sources,
 * 3 otherwise; alpha dropped. Throws ImageDecodeError naming `name` and the reason.
 */
export function decodeImage(bytes: Uint8Array, name = '<buffer>'): Image {
  const format = sniffFormat(bytes);
  if (format === 'png') return decodePng(bytes, name);
  if (format === 'jpeg') return decodeJpeg(bytes, name);
  throw new ImageDecodeError(name, describeUnknown(bytes));
}

export { ImageDecodeError, sniffFormat };
