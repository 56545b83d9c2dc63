import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeImage, decodeImageAsync, parseCsv, type Image } from '../src/index.ts';
import { crc32 } from '../src/decode/png-scanlines.ts';
import { REAL_ROOT, realDataAvailable } from './helpers.ts';

/** The browser decoder (DecompressionStream, JS CRC) against Node's (zlib, pngjs), bit for bit. */
function expectSame(a: Image, b: Image, what: string): void {
  expect([a.width, a.height, a.channels], what).toEqual([b.width, b.height, b.channels]);
  const x = new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length);
  const y = new Uint32Array(b.data.buffer, b.data.byteOffset, b.data.length);
  let first = -1;
  for (let i = 0; i < x.length && first < 0; i++) if (x[i] !== y[i]) first = i;
  expect(first, `${what}: pixels differ at sample ${first}`).toBe(-1);
}

describe('CRC-32 for browsers', () => {
  it('matches zlib.crc32 on random lengths', () => {
    const z = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
    if (!z) return expect.fail('zlib.crc32 needs Node 20.15+');
    for (const n of [0, 1, 7, 64, 1000, 65537]) {
      const d = new Uint8Array(n).map(() => (Math.random() * 256) | 0);
      expect(crc32(d), `length ${n}`).toBe(z(d));
    }
  });
});

describe.skipIf(!realDataAvailable())('decodeImageAsync on cxr-real', () => {
  const rows = parseCsv(readFileSync(path.join(REAL_ROOT, 'manifest.csv'), 'utf8'));
  const h = rows.shift()!;
  const col = (r: string[], name: string) => r[h.indexOf(name)];
  // The first file of every (format, depth, mode) the set has: 16-bit RGBA, 8-bit L/RGB/RGBA/P PNG, L/RGB JPEG.
  const kinds = new Map<string, string>();
  for (const r of rows) {
    const k = `${col(r, 'format')} ${col(r, 'bit_depth')}-bit ${col(r, 'mode')}`;
    if (!kinds.has(k)) kinds.set(k, col(r, 'file'));
  }

  it('gives the same pixels as decodeImage for every kind of file but palette PNGs, which it refuses by name', async () => {
    expect(kinds.size).toBeGreaterThanOrEqual(7);
    for (const [kind, file] of kinds) {
      const bytes = new Uint8Array(readFileSync(path.join(REAL_ROOT, file)));
      if (kind.endsWith(' P')) {
        await expect(decodeImageAsync(bytes, file)).rejects.toThrow(`cannot decode image '${file}': PNG is palette-based`);
        continue;
      }
      expectSame(await decodeImageAsync(bytes, file), decodeImage(bytes, file), `${kind} (${file})`);
    }
  });

  it('names the file when the compressed data is corrupt', async () => {
    const file = kinds.get('PNG 8-bit L')!;
    const bytes = new Uint8Array(readFileSync(path.join(REAL_ROOT, file)));
    // Flip bytes inside the first IDAT and fix its CRC, so only the deflate stream is wrong.
    let o = 8;
    while (String.fromCharCode(...bytes.subarray(o + 4, o + 8)) !== 'IDAT') o += 12 + new DataView(bytes.buffer).getUint32(o);
    const len = new DataView(bytes.buffer).getUint32(o);
    for (let i = 0; i < 64; i++) bytes[o + 8 + 2 + i] ^= 0xa5;
    new DataView(bytes.buffer).setUint32(o + 8 + len, crc32(bytes.subarray(o + 4, o + 8 + len)));
    await expect(decodeImageAsync(bytes, 'broken.png')).rejects.toThrow(/cannot decode image 'broken.png': corrupt/);
  });
});
