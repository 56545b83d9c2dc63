/**
 * Format detection from magic bytes. Extensions lie in real datasets (cxr-real has a PNG named
 * .jpg), so the extension is only used to pick the files, never to pick the decoder.
 */
export type ImageFormat = 'png' | 'jpeg';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

export function describeUnknown(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'file is empty (0 bytes)';
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  const gif = bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46;
  const bmp = bytes[0] === 0x42 && bytes[1] === 0x4d;
  const tiff = (bytes[0] === 0x49 && bytes[1] === 0x49) || (bytes[0] === 0x4d && bytes[1] === 0x4d);
  const kind = gif ? ' (GIF, unsupported)' : bmp ? ' (BMP, unsupported)' : tiff ? ' (TIFF, unsupported)' : '';
  return `not a PNG or JPEG: first bytes ${head}${kind}`;
}
