import type { Image } from '../image.ts';
import { ImageDecodeError } from './errors.ts';
import { decodeJpeg } from './jpeg.ts';
import { decodePng } from './png.ts';
import { describeUnknown, sniffFormat } from './sniff.ts';
import { greyIfNeutral } from '../transforms/grey.ts';

export interface DecodeOptions {
  /**
   * Colour files whose three channels are equal everywhere (most colour-saved X-rays) come back as
   * one channel: a third of the work in every transform, and the same batches, since each
   * transform treats channels alike and the batch writer replicates grey (the loader sets it).
   */
  greyIfNeutral?: boolean;
}

/**
 * Decodes PNG (1–16 bit; grey, grey+alpha, RGB, RGBA, palette, interlaced) or JPEG (baseline,
 * progressive) chosen by magic bytes. Returns HWC float32 in [0, 1]; 1 channel for grey sources,
 * 3 otherwise; alpha dropped. Throws ImageDecodeError naming `name` and the reason.
 */
export function decodeImage(bytes: Uint8Array, name = '<buffer>', opts: DecodeOptions = {}): Image {
  const format = sniffFormat(bytes);
  if (format === 'png') return opts.greyIfNeutral ? greyIfNeutral(decodePng(bytes, name)) : decodePng(bytes, name);
  if (format === 'jpeg') return decodeJpeg(bytes, name, undefined, opts.greyIfNeutral);
  throw new ImageDecodeError(name, describeUnknown(bytes));
}

export { ImageDecodeError, sniffFormat };
