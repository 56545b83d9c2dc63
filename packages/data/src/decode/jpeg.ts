import jpeg from 'jpeg-js';
import type { Image } from '../image.ts';
import { ImageDecodeError } from './errors.ts';
import { parseJpegFrame } from './header.ts';
import { decodeJpegFast } from './jpeg-fast.ts';
import { isRgbCodedJpeg } from './jpegColorSpace.ts';
import { checkPixelCount, maxMegapixels } from './limits.ts';
import { greyIfNeutral } from '../transforms/grey.ts';

/**
 * JPEG via jpeg-js (baseline and progressive, restart intervals). jpeg-js always hands back RGB,
 * so the component count is read from the SOF first and single-component files are kept grey.
 * Bytes after EOI are ignored by jpeg-js; that is what real files need (cxr-real has one).
 */
export function decodeJpeg(bytes: Uint8Array, name: string, limitMegapixels = maxMegapixels(), neutralAsGrey = false): Image {
  const frame = parseJpegFrame(bytes, name);
  checkPixelCount(name, frame.width, frame.height, limitMegapixels);
  if (frame.components !== 1 && frame.components !== 3) {
    throw new ImageDecodeError(name, `unsupported JPEG with ${frame.components} components (CMYK?)`);
  }
  if (frame.bitDepth !== 8) throw new ImageDecodeError(name, `unsupported ${frame.bitDepth}-bit JPEG`);
  if (!hasEoi(bytes)) throw new ImageDecodeError(name, 'truncated JPEG: no end-of-image (EOI) marker after the image data');
  const rgb = frame.components === 3 && isRgbCodedJpeg(bytes);
  const img = decodeJpegFast(bytes, neutralAsGrey, rgb) ?? decodeJpegWithJpegJs(bytes, name, frame.components, limitMegapixels, rgb);
  return neutralAsGrey ? greyIfNeutral(img) : img;
}

/**
 * jpeg-js: every JPEG the fast path (jpeg-fast.ts) does not take (progressive, unusual or
 * damaged files), with jpeg-js's tolerance and error messages.
 */
export function decodeJpegWithJpegJs(bytes: Uint8Array, name: string, components: number, limitMegapixels = maxMegapixels(), rgbCoded = false): Image {
  let raw: { width: number; height: number; data: Uint8Array };
  try {
    raw = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: true,
      maxResolutionInMP: limitMegapixels,
      maxMemoryUsageInMB: 2048,
      // jpeg-js reads Adobe's transform 0 but converts anyway unless told not to
      ...(rgbCoded ? { colorTransform: false } : {}),
    });
  } catch (e) {
    throw new ImageDecodeError(name, `corrupt or truncated JPEG (${(e as Error).message})`);
  }
  const { width, height } = raw;
  const n = width * height;
  const src = raw.data;
  const inv = 1 / 255;
  if (components === 1) {
    const data = new Float32Array(n);
    for (let i = 0, j = 0; i < n; i++, j += 3) data[i] = src[j] * inv;
    return { width, height, channels: 1, data };
  }
  const data = new Float32Array(n * 3);
  for (let i = 0; i < n * 3; i++) data[i] = src[i] * inv;
  return { width, height, channels: 3, data };
}

/**
 * jpeg-js's tolerant mode happily returns a half-grey image for a file cut in the middle of its
 * entropy-coded data; a missing EOI is the reliable sign of truncation. Any amount of data may
 * follow EOI (padding, appended blobs: PIL reads such files), so the last FFD9 after the first scan
 * header counts. Not before it: an EXIF thumbnail in APP1 ends with an EOI of its own.
 */
function hasEoi(b: Uint8Array): boolean {
  let i = 2;
  while (i + 3 < b.length && b[i] === 0xff) {
    const m = b[i + 1];
    if (m === 0xda) break;
    if (m === 0xff)
      i++; // fill byte before a marker
    else i += 2 + ((b[i + 2] << 8) | b[i + 3]);
  }
  for (let j = b.length - 2; j >= i; j--) if (b[j] === 0xff && b[j + 1] === 0xd9) return true;
  return false;
}
