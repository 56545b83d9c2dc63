import { describe, expect, it } from 'vitest';
import { applyTransforms, evalTransforms, mulberry32, toCHW, trainTransforms, type Image, type TransformSpec } from '../src/index.ts';
import { greyIfNeutral } from '../src/transforms/grey.ts';
import { testRng } from './helpers.ts';

const { rng, seed } = testRng('grey');

const asRgb = (g: Image): Image => {
  const data = new Float32Array(g.data.length * 3);
  for (let i = 0; i < g.data.length; i++) data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = g.data[i];
  return { ...g, channels: 3, data };
};

describe('greyIfNeutral', () => {
  it('collapses exactly-neutral RGB to one channel and leaves anything else alone', () => {
    const w = 20 + rng.int(0, 30);
    const h = 20 + rng.int(0, 30);
    const grey: Image = { width: w, height: h, channels: 1, data: Float32Array.from({ length: w * h }, () => rng.next()) };
    const rgb = asRgb(grey);
    const g = greyIfNeutral(rgb);
    expect(g.channels).toBe(1);
    expect(Array.from(g.data)).toEqual(Array.from(grey.data));
    // one sample off by one float step: not neutral
    const off = { ...rgb, data: rgb.data.slice() };
    const at = 3 * rng.int(0, w * h) + 1 + rng.int(0, 2);
    off.data[at] = Math.fround(off.data[at] + 2 ** -20);
    expect(greyIfNeutral(off)).toBe(off);
    // the cache's 8-bit criterion accepts that difference
    expect(greyIfNeutral(off, true).channels).toBe(1);
    expect(greyIfNeutral(grey)).toBe(grey);
  });

  it('the batch written from the grey image equals the one from its RGB form, for every pipeline', () => {
    const w = 70 + rng.int(0, 60);
    const h = 70 + rng.int(0, 60);
    // 16-bit-like values (not multiples of 1/255) so no rounding coincidence hides a difference
    const grey: Image = { width: w, height: h, channels: 1, data: Float32Array.from({ length: w * h }, () => rng.int(0, 65536) / 65535) };
    const rgb = asRgb(grey);
    const pipelines: Array<[string, TransformSpec[]]> = [
      ['eval', evalTransforms({ size: 48 })],
      ['eval+equalize', evalTransforms({ size: 40, equalize: true })],
      ['train', trainTransforms({ size: 48 })],
      ['train exact resize', trainTransforms({ size: 32, reducingGap: null })],
      ['train+equalize', trainTransforms({ size: 36, equalize: true })],
      ['bilinear resize', [{ kind: 'resize', size: [23, 57], filter: 'bilinear' }]],
      ['reduce', [{ kind: 'resize', size: 16, reducingGap: 1.5 }]],
    ];
    for (const [name, tf] of pipelines) {
      for (let k = 0; k < 3; k++) {
        const s = seed + k;
        const a = toCHW(applyTransforms(greyIfNeutral(rgb), tf, mulberry32(s)));
        const b = toCHW(applyTransforms(rgb, tf, mulberry32(s)));
        expect(a.length, name).toBe(b.length);
        const x = new Uint32Array(a.buffer);
        const y = new Uint32Array(b.buffer);
        let first = -1;
        for (let i = 0; i < x.length && first < 0; i++) if (x[i] !== y[i]) first = i;
        expect(first, `${name}, seed ${s}: batches differ at ${first}`).toBe(-1);
      }
    }
  });
});

describe('decodeImage greyIfNeutral', () => {
  it('returns grey for neutral colour JPEG and PNG files, the same samples as the RGB decode; colour files stay RGB', async () => {
    const jpeg = (await import('jpeg-js')).default;
    const { PNG } = await import('pngjs');
    const { decodeImage } = await import('../src/index.ts');
    const w = 33;
    const h = 21;
    for (const neutralPicture of [true, false]) {
      const rgba = Buffer.alloc(w * h * 4);
      for (let i = 0; i < w * h; i++) {
        const v = rng.int(0, 256);
        rgba[4 * i] = v;
        rgba[4 * i + 1] = neutralPicture ? v : rng.int(0, 256);
        rgba[4 * i + 2] = v;
        rgba[4 * i + 3] = 255;
      }
      const files = {
        jpeg: new Uint8Array(jpeg.encode({ data: rgba, width: w, height: h }, 90).data),
        png: new Uint8Array(PNG.sync.write({ width: w, height: h, data: rgba } as never, { colorType: 2 })),
      };
      for (const [kind, bytes] of Object.entries(files)) {
        const rgb = decodeImage(bytes, kind);
        const g = decodeImage(bytes, kind, { greyIfNeutral: true });
        expect(rgb.channels).toBe(3);
        if (!neutralPicture) {
          expect(g.channels, kind).toBe(3);
          expect(Array.from(g.data)).toEqual(Array.from(rgb.data));
          continue;
        }
        expect(g.channels, kind).toBe(1);
        expect(Array.from(g.data), kind).toEqual(Array.from(rgb.data.filter((_, i) => i % 3 === 0)));
        expect(Array.from(rgb.data.filter((_, i) => i % 3 === 1))).toEqual(Array.from(g.data));
      }
    }
  });
});
