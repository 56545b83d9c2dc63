import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { decodeImage, parseCsv, type Image } from '../src/index.ts';
import { decodeJpegFast } from '../src/decode/jpeg-fast.ts';
import { decodeJpegWithJpegJs } from '../src/decode/jpeg.ts';
import { parseJpegFrame } from '../src/decode/header.ts';
import { REAL_ROOT, realDataAvailable, testRng } from './helpers.ts';

const { rng, seed } = testRng('jpeg-fast');
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/jpeg');
const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** jpeg-js's result for the same bytes, or its error */
function reference(bytes: Uint8Array): Image | Error {
  try {
    return decodeJpegWithJpegJs(bytes, 'x.jpg', parseJpegFrame(bytes, 'x.jpg').components);
  } catch (e) {
    return e as Error;
  }
}

/** Bit-exact comparison (Float32Array contents compared as integers). */
function expectSame(a: Image, b: Image, what: string): void {
  expect([a.width, a.height, a.channels], what).toEqual([b.width, b.height, b.channels]);
  const x = new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length);
  const y = new Uint32Array(b.data.buffer, b.data.byteOffset, b.data.length);
  let first = -1;
  for (let i = 0; i < x.length && first < 0; i++) if (x[i] !== y[i]) first = i;
  expect(first, `${what}: differs from jpeg-js at sample ${first} (seed ${seed})`).toBe(-1);
}

/** RGBA test picture: smooth gradients plus noise; grey (R = G = B) or coloured. */
function picture(w: number, h: number, grey: boolean): Buffer {
  const rgba = Buffer.alloc(w * h * 4);
  const fx = rng.uniform(0.5, 4);
  const fy = rng.uniform(0.5, 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const base = 128 + 100 * Math.sin((x / w) * fx * 3) * Math.cos((y / h) * fy * 3);
      const n = rng.uniform(-30, 30);
      const i = 4 * (y * w + x);
      const v = (d: number) => Math.min(255, Math.max(0, Math.round(base + n + d)));
      rgba[i] = v(0);
      rgba[i + 1] = grey ? rgba[i] : v(40 * Math.sin(x / 5));
      rgba[i + 2] = grey ? rgba[i] : v(-60 * Math.cos(y / 7));
      rgba[i + 3] = 255;
    }
  }
  return rgba;
}

describe('baseline JPEG fast path', () => {
  it('gives jpeg-js bit for bit on encoded pictures of odd sizes and all qualities', () => {
    const sizes: Array<[number, number]> = [
      [1, 1],
      [8, 8],
      [9, 7],
      [37, 53],
      [64, 17],
      [rng.int(2, 130), rng.int(2, 130)],
    ];
    for (const [w, h] of sizes) {
      for (const quality of [5, 50, 90, 100]) {
        for (const grey of [true, false]) {
          const bytes = u8(jpeg.encode({ data: picture(w, h, grey), width: w, height: h }, quality).data);
          const fast = decodeJpegFast(bytes);
          expect(fast, `${w}x${h} q${quality}: fast path not taken`).toBeDefined();
          expectSame(fast!, reference(bytes) as Image, `${w}x${h} q${quality} ${grey ? 'grey' : 'colour'}`);
        }
      }
    }
  });

  it('gives jpeg-js bit for bit on 4:4:4, 4:2:2 and 4:2:0 colour and grey files from libjpeg; progressive goes to jpeg-js', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.jpg'));
    expect(files.length).toBe(9);
    for (const f of files) {
      const bytes = new Uint8Array(readFileSync(path.join(FIXTURES, f)));
      const fast = decodeJpegFast(bytes);
      if (f.startsWith('progressive')) {
        expect(fast, f).toBeUndefined();
        expectSame(decodeImage(bytes, f), reference(bytes) as Image, f);
        continue;
      }
      expect(fast, `${f}: fast path not taken`).toBeDefined();
      expectSame(fast!, reference(bytes) as Image, f);
      expect(fast!.channels).toBe(f.startsWith('grey') ? 1 : 3);
    }
  });

  it('damaged files: decodeImage gives what jpeg-js gives (the same pixels or an error)', () => {
    const w = 40;
    const h = 24;
    const good = u8(jpeg.encode({ data: picture(w, h, false), width: w, height: h }, 80).data);
    // the entropy-coded data starts after the SOS segment
    let sos = 2;
    while (!(good[sos] === 0xff && good[sos + 1] === 0xda)) sos += 2 + ((good[sos + 2] << 8) | good[sos + 3]);
    const dataStart = sos + 2 + ((good[sos + 2] << 8) | good[sos + 3]);
    let decoded = 0;
    let failed = 0;
    for (let t = 0; t < 150; t++) {
      const bad = good.slice();
      const kind = t % 3;
      const at = rng.int(dataStart, good.length - 2);
      if (kind === 0) bad[at] = rng.int(0, 256);
      else if (kind === 1)
        bad[at] = 0xff; // often a marker in the middle of the scan
      else bad.copyWithin(at, at + rng.int(1, 20)); // bytes lost, the end repeated
      const ref = reference(bad);
      let got: Image | Error;
      try {
        got = decodeImage(bad, 'x.jpg');
      } catch (e) {
        got = e as Error;
      }
      if (ref instanceof Error) {
        expect(got, `variant ${t}: jpeg-js fails, decodeImage must too`).toBeInstanceOf(Error);
        failed++;
      } else {
        expect(got, `variant ${t}: jpeg-js decodes it`).not.toBeInstanceOf(Error);
        expectSame(got as Image, ref, `damaged variant ${t}`);
        decoded++;
      }
    }
    // both outcomes occurred, so both branches of the comparison ran
    expect(decoded).toBeGreaterThan(10);
    expect(failed + decoded).toBe(150);
  });
});

describe.skipIf(!realDataAvailable())('baseline JPEG fast path on cxr-real', () => {
  it('gives jpeg-js bit for bit on every baseline JPEG (grey, 4:4:4, 4:2:0, restart intervals); progressive ones go to jpeg-js', () => {
    const rows = parseCsv(readFileSync(path.join(REAL_ROOT, 'manifest.csv'), 'utf8'));
    const h = rows.shift()!;
    let fastCount = 0;
    let progressive = 0;
    for (const r of rows) {
      const file = r[h.indexOf('file')];
      const bytes = new Uint8Array(readFileSync(path.join(REAL_ROOT, file)));
      if (bytes[0] !== 0xff || bytes[1] !== 0xd8) continue;
      const fast = decodeJpegFast(bytes);
      if (parseJpegFrame(bytes, file).progressive) {
        expect(fast, file).toBeUndefined();
        progressive++;
        continue;
      }
      expect(fast, `${file}: fast path not taken`).toBeDefined();
      expectSame(fast!, reference(bytes) as Image, file);
      fastCount++;
    }
    expect(fastCount).toBe(63);
    expect(progressive).toBe(12);
  });
});
