// Decompression bombs: a PNG's IHDR may claim any size. The probe's 875 KB 30000×30000 PNG took
// 4.7 GB and 23 s in `predict`; JPEG was already capped at 100 MP. Both now are, in the header
// check and in both PNG decoders, before anything is allocated, with the file named.
import { deflateSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { decodeImage, decodeImageAsync, readImageHeader } from '../src/index.ts';
import { decodePngWithPngjs } from '../src/decode/png.ts';

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = crcTable[(c ^ x) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(Buffer.from(type, 'latin1'), 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc(out.subarray(4, 8 + data.length)));
  return out;
}
/** A PNG whose IHDR claims width × height (8-bit grey); its IDAT holds one row only. */
function bomb(width: number, height: number, interlace = 0): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([8, 0, 0, 0, interlace], 8);
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(new Uint8Array(width + 1))),
    chunk('IEND', new Uint8Array(0)),
  ];
  return Buffer.concat(parts);
}

afterEach(() => {
  delete process.env.CXR_MAX_MEGAPIXELS;
});

describe('pixel caps', () => {
  it('a 30000x30000 PNG is refused at once, naming the file, its size and the limit', async () => {
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    const file = bomb(30000, 30000);
    expect(() => decodeImage(file, 'scans/bomb.png')).toThrow(
      "cannot decode image 'scans/bomb.png': image is 30000x30000 (900.0 MP), over the 100 MP limit (set CXR_MAX_MEGAPIXELS to raise it)",
    );
    expect(() => readImageHeader(file, 'scans/bomb.png')).toThrow(/900\.0 MP\), over the 100 MP limit/);
    // the pngjs path (interlaced, palette, odd depths) checks too
    expect(() => decodeImage(bomb(30000, 30000, 1), 'i.png')).toThrow(/over the 100 MP limit/);
    expect(() => decodePngWithPngjs(file, 'p.png')).toThrow(/over the 100 MP limit/);
    // and the browser decoder (DecompressionStream) as well
    await expect(decodeImageAsync(file, 'web.png')).rejects.toThrow(/web\.png': image is 30000x30000 \(900\.0 MP\), over the 100 MP limit/);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(200 * 2 ** 20);
  });
  it('the limit is configurable, and images under it decode as before', () => {
    const g = Buffer.alloc(300 * 200, 77);
    const png = new Uint8Array(
      PNG.sync.write({ width: 300, height: 200, data: g } as PNG, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false }),
    );
    expect(decodeImage(png, 'ok.png').width).toBe(300);
    process.env.CXR_MAX_MEGAPIXELS = '0.05';
    expect(() => decodeImage(png, 'ok.png')).toThrow(/image is 300x200 \(0\.1 MP\), over the 0\.05 MP limit/);
    process.env.CXR_MAX_MEGAPIXELS = '0.06';
    expect(decodeImage(png, 'ok.png').height).toBe(200);
    process.env.CXR_MAX_MEGAPIXELS = 'lots';
    expect(() => decodeImage(png, 'ok.png')).toThrow(/CXR_MAX_MEGAPIXELS must be a positive number/);
  });
});
