/**
 * Whether a 3-component JPEG stores R, G, B rather than YCbCr. libjpeg (hence PIL) decides so from
 * the markers: a JFIF APP0 means YCbCr; otherwise an Adobe APP14 with transform 0 means the
 * components are RGB as they are (Photoshop and some scanners write such files). Decoding them as
 * YCbCr tints the image and mixes its channels.
 */
export function isRgbCodedJpeg(b: Uint8Array): boolean {
  let jfif = false;
  let adobeTransform: number | undefined;
  let o = 2;
  while (o + 4 <= b.length && b[o] === 0xff) {
    const m = b[o + 1];
    if (m === 0xff) {
      o++; // fill byte
      continue;
    }
    if (m === 0xda || m === 0xd9) break; // the markers that decide come before the scan
    const len = (b[o + 2] << 8) | b[o + 3];
    const s = o + 4;
    if (m === 0xe0 && len >= 7 && b[s] === 0x4a && b[s + 1] === 0x46 && b[s + 2] === 0x49 && b[s + 3] === 0x46 && b[s + 4] === 0) jfif = true;
    if (m === 0xee && len >= 14 && b[s] === 0x41 && b[s + 1] === 0x64 && b[s + 2] === 0x6f && b[s + 3] === 0x62 && b[s + 4] === 0x65)
      adobeTransform = b[s + 11];
    o += 2 + len;
  }
  return !jfif && adobeTransform === 0;
}
