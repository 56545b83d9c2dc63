import { ImageDecodeError } from './errors.ts';
import { describeUnknown, sniffFormat, type ImageFormat } from './sniff.ts';
import { checkPixelCount } from './limits.ts';

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  /** colour components as stored (PNG palette counts as 3, alpha excluded) */
  channels: 1 | 3;
  bitDepth: number;
  progressive?: boolean;
}

/**
 * Reads dimensions without decoding pixels, so a 10,000-image folder can be checked cheaply.
 * Needs only the first chunk of the file for PNG; for JPEG the SOF may sit after large
 * Exif/ICC segments, so callers pass more bytes when this throws 'need more bytes'.
 */
export function readImageHeader(bytes: Uint8Array, name = '<buffer>'): ImageHeader {
  const format = sniffFormat(bytes);
  if (!format) throw new ImageDecodeError(name, describeUnknown(bytes));
  const header = format === 'png' ? pngHeader(bytes, name) : jpegHeader(bytes, name);
  checkPixelCount(name, header.width, header.height);
  return header;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export function pngHeader(b: Uint8Array, name: string): ImageHeader {
  if (b.length < 33) throw new ImageDecodeError(name, `truncated PNG: ${b.length} bytes, no complete IHDR`);
  const type = String.fromCharCode(b[12], b[13], b[14], b[15]);
  if (type !== 'IHDR') throw new ImageDecodeError(name, `corrupt PNG: first chunk is '${type}', expected IHDR`);
  const width = u32(b, 16);
  const height = u32(b, 20);
  const bitDepth = b[24];
  const colorType = b[25];
  if (width === 0 || height === 0) throw new ImageDecodeError(name, `corrupt PNG: size ${width}x${height}`);
  if (![0, 2, 3, 4, 6].includes(colorType)) throw new ImageDecodeError(name, `corrupt PNG: colour type ${colorType}`);
  return { format: 'png', width, height, bitDepth, channels: colorType === 0 || colorType === 4 ? 1 : 3 };
}

export interface JpegFrame {
  width: number;
  height: number;
  components: number;
  bitDepth: number;
  progressive: boolean;
}

export function parseJpegFrame(b: Uint8Array, name: string): JpegFrame {
  let o = 2;
  while (o + 4 <= b.length) {
    if (b[o] !== 0xff) {
      throw new ImageDecodeError(name, `corrupt JPEG: expected a marker at byte ${o}, found 0x${b[o].toString(16)}`);
    }
    const m = b[o + 1];
    if (m === 0xff) {
      o++; // fill byte
      continue;
    }
    if (m === 0xd8 || (m >= 0xd0 && m <= 0xd7) || m === 0x01) {
      o += 2;
      continue;
    }
    if (m === 0xd9 || m === 0xda) break; // EOI/SOS before any SOF
    const len = (b[o + 2] << 8) | b[o + 3];
    const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
    if (isSof) {
      if (o + 10 > b.length) break;
      if (m !== 0xc0 && m !== 0xc1 && m !== 0xc2) {
        throw new ImageDecodeError(name, `unsupported JPEG process (SOF${m - 0xc0}: lossless/arithmetic/hierarchical)`);
      }
      const bitDepth = b[o + 4];
      const height = (b[o + 5] << 8) | b[o + 6];
      const width = (b[o + 7] << 8) | b[o + 8];
      const components = b[o + 9];
      if (width === 0 || height === 0) throw new ImageDecodeError(name, `corrupt JPEG: frame size ${width}x${height}`);
      return { width, height, components, bitDepth, progressive: m === 0xc2 };
    }
    o += 2 + len;
  }
  throw new ImageDecodeError(
    name,
    o + 4 > b.length ? 'truncated JPEG: no frame header (SOF) found before end of data' : 'corrupt JPEG: no frame header (SOF) before scan data',
  );
}

function jpegHeader(b: Uint8Array, name: string): ImageHeader {
  const f = parseJpegFrame(b, name);
  if (f.components !== 1 && f.components !== 3) {
    throw new ImageDecodeError(name, `unsupported JPEG with ${f.components} components (CMYK?)`);
  }
  return { format: 'jpeg', width: f.width, height: f.height, channels: f.components === 1 ? 1 : 3, bitDepth: f.bitDepth, progressive: f.progressive };
}
