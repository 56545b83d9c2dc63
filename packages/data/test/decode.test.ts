import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { DataLoader, decodeImage, ImageDecodeError, loadImageFolder } from '../src/index.ts';
import { decodeJpegWithJpegJs } from '../src/decode/jpeg.ts';
import { decodePngWithPngjs } from '../src/decode/png.ts';
import { testRng, tmpDir } from './helpers.ts';

const { rng } = testRng('decode');
const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

function png16(width: number, height: number, colorType: 0 | 2 | 4 | 6, samples: Uint16Array): Uint8Array {
  const data = Buffer.from(new Uint16Array(samples).buffer);
  const hasAlpha = colorType === 4 || colorType === 6;
  return u8(PNG.sync.write({ width, height, data } as PNG, { colorType, inputColorType: colorType, bitDepth: 16, inputHasAlpha: hasAlpha }));
}

describe('PNG 16-bit scaling', () => {
  it('maps 65535 to 1, 0 to 0, 257*k to k/255 and every value v to v/65535', () => {
    const w = 5 + rng.int(0, 20);
    const h = 3 + rng.int(0, 20);
    const n = w * h;
    const s = new Uint16Array(n);
    for (let i = 0; i < n; i++) s[i] = i % 3 === 0 ? 257 * rng.int(0, 256) : rng.int(0, 65536);
    s[0] = 65535;
    s[1] = 0;
    const img = decodeImage(png16(w, h, 0, s), 'grey16.png');
    expect(img.channels).toBe(1);
    expect(img.data[0]).toBe(1);
    expect(img.data[1]).toBe(0);
    for (let i = 0; i < n; i++) {
      expect(img.data[i]).toBeCloseTo(s[i] / 65535, 6);
      if (i % 3 === 0 && i > 1) expect(img.data[i]).toBeCloseTo(s[i] / 257 / 255, 6);
    }
  });

  it('keeps RGB(A) and grey+alpha 16-bit samples exact and drops alpha', () => {
    for (const ct of [2, 4, 6] as const) {
      const bpp = { 2: 3, 4: 2, 6: 4 }[ct];
      const w = 4 + rng.int(0, 8);
      const h = 4 + rng.int(0, 8);
      const s = Uint16Array.from({ length: w * h * bpp }, () => rng.int(0, 65536));
      const img = decodeImage(png16(w, h, ct, s), `ct${ct}.png`);
      const colourCh = ct === 4 ? 1 : 3;
      expect(img.channels).toBe(colourCh);
      for (let p = 0; p < w * h; p++) for (let c = 0; c < colourCh; c++) expect(img.data[p * colourCh + c]).toBeCloseTo(s[p * bpp + c] / 65535, 6);
    }
  });
});

describe('8-bit PNG and JPEG', () => {
  it('decodes 8-bit grey exactly and RGB JPEG close to its source', () => {
    const w = 16 + rng.int(0, 16);
    const h = 16 + rng.int(0, 16);
    const g = Buffer.from(Array.from({ length: w * h }, () => rng.int(0, 256)));
    const img = decodeImage(
      u8(PNG.sync.write({ width: w, height: h, data: g } as PNG, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false })),
      'g8.png',
    );
    for (let i = 0; i < w * h; i++) expect(img.data[i]).toBeCloseTo(g[i] / 255, 6);
    // smooth image: JPEG at quality 95 stays within a few grey levels
    const rgba = Buffer.alloc(w * h * 4);
    const a = rng.uniform(0, 100);
    for (let i = 0; i < w * h; i++) {
      const v = Math.round(100 + a * Math.sin(i / 50));
      rgba.set([v, v, v, 255], i * 4);
    }
    const j = decodeImage(u8(jpeg.encode({ data: rgba, width: w, height: h }, 95).data), 'x.jpg');
    expect(j.channels).toBe(3);
    let err = 0;
    for (let i = 0; i < w * h; i++) err += Math.abs(j.data[i * 3] * 255 - rgba[i * 4]);
    expect(err / (w * h)).toBeLessThan(3);
  });
});

describe('broken files', () => {
  const { dir, cleanup } = tmpDir('broken');
  afterAll(cleanup);
  const good = u8(
    PNG.sync.write({ width: 8, height: 8, data: Buffer.alloc(64, 128) } as PNG, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false }),
  );
  const goodJpeg = u8(jpeg.encode({ data: Buffer.alloc(32 * 32 * 4, 90), width: 32, height: 32 }, 90).data);
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['empty.png', new Uint8Array(0), /empty \(0 bytes\)/],
    ['text.png', new TextEncoder().encode('hello, not an image'), /not a PNG or JPEG/],
    ['trunc.png', good.subarray(0, 20), /truncated PNG/],
    ['trunc-data.png', good.subarray(0, good.length - 20), /PNG/],
    ['trunc.jpg', goodJpeg.subarray(0, Math.floor(goodJpeg.length / 2)), /truncated JPEG/],
    ['gif.jpg', new Uint8Array([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0, 0]), /GIF/],
  ];
  it('a JPEG with any amount of data after EOI decodes as without it; one cut before EOI is truncated even with an EXIF thumbnail', () => {
    const ref = decodeImage(goodJpeg, 'good.jpg');
    const trailing = new Uint8Array(goodJpeg.length + 200);
    trailing.set(goodJpeg);
    trailing.fill(0x5a, goodJpeg.length);
    expect(decodeImage(trailing, 'trailing.jpg')).toEqual(ref);
    // APP1 holding a thumbnail's FFD9 right after SOI; the scan data is then cut in half
    const app1 = [0xff, 0xe1, 0x00, 0x08, 0x45, 0x78, 0xff, 0xd8, 0xff, 0xd9];
    const withThumb = new Uint8Array([...goodJpeg.subarray(0, 2), ...app1, ...goodJpeg.subarray(2)]);
    expect(decodeImage(withThumb, 'thumb.jpg')).toEqual(ref);
    expect(() => decodeImage(withThumb.subarray(0, Math.floor(withThumb.length / 2)), 'cut-thumb.jpg')).toThrow(/cut-thumb\.jpg.*truncated JPEG/);
  });

  it('a PNG missing only its IEND chunk decodes (both decoders); one cut inside its image data says so', () => {
    const noisy = u8(
      PNG.sync.write({ width: 20, height: 20, data: Buffer.from(Array.from({ length: 400 }, () => rng.int(0, 256))) } as PNG, {
        colorType: 0,
        inputColorType: 0,
        bitDepth: 8,
        inputHasAlpha: false,
      }),
    );
    const ref = decodeImage(noisy, 'full.png');
    const noEnd = noisy.subarray(0, noisy.length - 12);
    expect(decodeImage(noEnd, 'noiend.png')).toEqual(ref);
    expect(decodePngWithPngjs(noEnd, 'noiend.png')).toEqual(ref);
    expect(() => decodeImage(noisy.subarray(0, noisy.length - 40), 'cut.png')).toThrow(
      /cut\.png.*truncated PNG: the file ends before its image data is complete/,
    );
  });

  it('throws ImageDecodeError naming the file and the reason', () => {
    for (const [name, bytes, re] of cases) {
      let err: unknown;
      try {
        decodeImage(bytes, name);
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(ImageDecodeError);
      expect((err as Error).message).toContain(name);
      expect((err as Error).message).toMatch(re);
    }
  });

  it("loadImageFolder: 'error' names the bad file, 'skip' lists every skipped file", async () => {
    const cls = path.join(dir, 'a');
    mkdirSync(cls, { recursive: true });
    mkdirSync(path.join(dir, 'b'), { recursive: true });
    for (let i = 0; i < 6; i++) writeFileSync(path.join(dir, i % 2 ? 'a' : 'b', `ok${i}.PNG`), good);
    writeFileSync(path.join(cls, 'empty.png'), new Uint8Array(0));
    writeFileSync(path.join(cls, 'notes.txt'), 'x');
    await expect(loadImageFolder(dir, { log: () => {} })).rejects.toThrow(/empty\.png.*0 bytes/);
    const warns: string[] = [];
    const ds = await loadImageFolder(dir, { onBadImage: 'skip', log: () => {}, warn: (m) => warns.push(m) });
    expect(ds.skipped.map((s) => path.basename(s.file))).toEqual(['empty.png']);
    expect(warns.join()).toContain('empty.png');
    expect(ds.ignored.map((f) => path.basename(f))).toEqual(['notes.txt']);
    const total = Object.values(ds.splits).reduce((a, s) => a + s.length, 0);
    expect(total).toBe(6);
  });

  it('DataLoader: a file broken after the header check errors or is skipped and reported', async () => {
    const d2 = path.join(dir, 'loader');
    for (const c of ['x', 'y']) mkdirSync(path.join(d2, c), { recursive: true });
    for (let i = 0; i < 5; i++) writeFileSync(path.join(d2, i % 2 ? 'x' : 'y', `g${i}.png`), good);
    writeFileSync(path.join(d2, 'x', 'cut.jpg'), goodJpeg.subarray(0, Math.floor(goodJpeg.length * 0.7)));
    const ds = await loadImageFolder(d2, { log: () => {}, fractions: { train: 1, val: 0, test: 0 } });
    const all = ds.split('train');
    expect(all.samples.length).toBe(6);
    const tf = [{ kind: 'resize' as const, size: [8, 8] as [number, number] }];
    const strict = new DataLoader(all, { batchSize: 4, workers: 0, transforms: tf });
    await expect(async () => {
      for await (const _ of strict) void _;
    }).rejects.toThrow(/cut\.jpg.*truncated JPEG/);
    const warns: string[] = [];
    const lenient = new DataLoader(all, { batchSize: 4, workers: 0, transforms: tf, onBadImage: 'skip', warn: (m) => warns.push(m) });
    let n = 0;
    for await (const b of lenient) n += b.shape[0];
    expect(n).toBe(5);
    expect(lenient.skipped.map((s) => path.basename(s.file))).toEqual(['cut.jpg']);
    expect(warns.join()).toContain('cut.jpg');
  });
});

describe('JPEG colour space', () => {
  it('an Adobe APP14 transform-0 JPEG (no JFIF) is RGB-coded: its planes are R, G, B, in both decoders', () => {
    const w = 24;
    const h = 16;
    const rgba = Buffer.alloc(w * h * 4);
    for (let i = 0; i < w * h; i++) rgba.set([rng.int(0, 256), (i * 5) % 256, 255 - ((i * 3) % 256), 255], 4 * i);
    const ycc = u8(jpeg.encode({ data: rgba, width: w, height: h }, 95).data);
    expect([ycc[2], ycc[3]]).toEqual([0xff, 0xe0]); // JFIF APP0 first
    const app0End = 4 + ((ycc[4] << 8) | ycc[5]);
    const adobe = [0xff, 0xee, 0, 14, 0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, 0];
    const rgbCoded = new Uint8Array([0xff, 0xd8, ...adobe, ...ycc.subarray(app0End)]);
    // the same planes, not converted: what libjpeg (PIL) returns for such a file
    const planes = jpeg.decode(ycc, { useTArray: true, formatAsRGBA: false, colorTransform: false }).data;
    const want = Float32Array.from(planes, (v) => v / 255);
    const fast = decodeImage(rgbCoded, 'adobe-rgb.jpg');
    expect(fast.channels).toBe(3);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(fast.data[i] - want[i]));
    expect(maxDiff).toBeLessThan(1e-6);
    expect(decodeJpegWithJpegJs(rgbCoded, 'adobe-rgb.jpg', 3, undefined, true).data).toEqual(fast.data);
    // with JFIF present, libjpeg keeps YCbCr whatever APP14 says
    const both = new Uint8Array([...ycc.subarray(0, app0End), ...adobe, ...ycc.subarray(app0End)]);
    expect(decodeImage(both, 'jfif-adobe.jpg')).toEqual(decodeImage(ycc, 'ycc.jpg'));
  });
});
