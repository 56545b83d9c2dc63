import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { reduce, resample, type Box, type Image } from '../src/index.ts';
import { testRng, tmpDir } from './helpers.ts';

const { rng } = testRng('reduce');
const PY = '/usr/bin/python3';

function pilAvailable(): boolean {
  try {
    execFileSync(PY, ['-c', 'from PIL import Image; Image.new("L", (4, 4)).reduce(2)'], { stdio: 'ignore' });
    return true;
  } catch {
    const msg = `${PY} with PIL >= 7 not available (apt-get install python3-pil): reduce/reducing_gap parity tests are SKIPPED`;
    if (process.env.CI === 'true') throw new Error(msg.replace('are SKIPPED', 'are required in CI'));
    console.warn(`\n${'!'.repeat(100)}\n!! ${msg}\n${'!'.repeat(100)}\n`);
    return false;
  }
}
const have = existsSync(PY) && pilAvailable();
const { dir, cleanup } = tmpDir('reduce');
afterAll(cleanup);

const SCRIPT = `
import sys, json
from PIL import Image
a = json.loads(sys.argv[1])
with open(a['src'], 'rb') as f:
    img = Image.frombytes(a['mode'], (a['w'], a['h']), f.read())
if a['op'] == 'reduce':
    out = img.reduce((a['fx'], a['fy']), box=tuple(a['box']))
else:
    f = {'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC}[a['filter']]
    out = img.resize((a['ow'], a['oh']), f, box=tuple(a['box']), reducing_gap=a['gap'])
with open(a['dst'], 'wb') as f:
    f.write(out.tobytes())
print(out.size[0], out.size[1])
`;

function pil(src8: Uint8Array, w: number, h: number, c: 1 | 3, args: Record<string, unknown>): { data: Uint8Array; w: number; h: number } {
  const src = path.join(dir, 'in.raw');
  const dst = path.join(dir, 'out.raw');
  writeFileSync(src, src8);
  const size = execFileSync(PY, ['-c', SCRIPT, JSON.stringify({ src, dst, w, h, mode: c === 1 ? 'L' : 'RGB', ...args })])
    .toString()
    .trim()
    .split(' ')
    .map(Number);
  return { data: new Uint8Array(readFileSync(dst)), w: size[0], h: size[1] };
}

function randomImage(w: number, h: number, c: 1 | 3): { img: Image; src8: Uint8Array } {
  const src8 = new Uint8Array(w * h * c);
  const fx = rng.uniform(1, 12);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) {
        let v = 128 + 90 * Math.sin((fx * x) / w + k) * Math.cos((fx * y) / h) + rng.uniform(-40, 40);
        if (x > w / 2) v += 40;
        src8[(y * w + x) * c + k] = Math.max(0, Math.min(255, Math.round(v)));
      }
  return { img: { width: w, height: h, channels: c, data: Float32Array.from(src8, (v) => v / 255) }, src8 };
}

function compare(ours: Image, ref: { data: Uint8Array; w: number; h: number }, what: string): { mean: number; max: number } {
  expect([ours.width, ours.height], what).toEqual([ref.w, ref.h]);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < ref.data.length; i++) {
    const d = Math.abs(ours.data[i] * 255 - ref.data[i]);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / ref.data.length, max };
}

describe.skipIf(!have)('reduce and reducingGap: parity with PIL', () => {
  it('reduce((fx, fy), box) including partial last blocks', () => {
    for (let t = 0; t < 6; t++) {
      const c: 1 | 3 = t % 3 === 2 ? 3 : 1;
      const w = 20 + rng.int(0, 120);
      const h = 20 + rng.int(0, 120);
      const fx = 1 + rng.int(0, 5);
      const fy = 1 + rng.int(0, 5);
      const x0 = rng.int(0, w >> 2);
      const y0 = rng.int(0, h >> 2);
      const box: Box = t < 2 ? [0, 0, w, h] : [x0, y0, x0 + rng.int(fx, w - x0 + 1), y0 + rng.int(fy, h - y0 + 1)];
      const { img, src8 } = randomImage(w, h, c);
      const r = compare(reduce(img, fx, fy, box), pil(src8, w, h, c, { op: 'reduce', fx, fy, box }), `reduce ${w}x${h}x${c} by ${fx}x${fy} box ${box}`);
      // PIL rounds each mean to 8 bits (with a fixed-point reciprocal), we do not
      expect(r.max).toBeLessThan(1);
      expect(r.mean).toBeLessThan(0.5); // rounding alone averages ~0.25
    }
  });

  it('resample(..., box, reducingGap) matches PIL resize(..., box, reducing_gap)', () => {
    for (const filter of ['bilinear', 'bicubic'] as const) {
      for (let t = 0; t < 4; t++) {
        const c: 1 | 3 = t === 3 ? 3 : 1;
        const w = 150 + rng.int(0, 250);
        const h = 150 + rng.int(0, 250);
        const gap = [1, 1.5, 2, 3][rng.int(0, 4)];
        const ow = 12 + rng.int(0, 60);
        const oh = 12 + rng.int(0, 60);
        const x0 = rng.int(0, w >> 2);
        const y0 = rng.int(0, h >> 2);
        const box: Box = t === 0 ? [0, 0, w, h] : [x0, y0, x0 + rng.int(w >> 2, w - x0 + 1), y0 + rng.int(h >> 2, h - y0 + 1)];
        const { img, src8 } = randomImage(w, h, c);
        const what = `${filter} gap ${gap} ${w}x${h}x${c} box ${box} -> ${ow}x${oh}`;
        const r = compare(resample(img, ow, oh, filter, box, gap), pil(src8, w, h, c, { op: 'resize', filter, ow, oh, box, gap }), what);
        console.log(`[reduce] ${what}: mean ${r.mean.toFixed(3)}, max ${r.max.toFixed(2)}`);
        expect(r.mean).toBeLessThan(1);
        expect(r.max).toBeLessThan(2);
      }
    }
  });
});

describe('reduce', () => {
  it('is the exact block mean, partial last blocks included (grey 2x2 fast path and general path)', () => {
    for (const [w, h, c, fx, fy] of [
      [64, 48, 1, 2, 2],
      [65, 47, 1, 2, 2],
      [30, 20, 3, 2, 2],
      [31, 22, 1, 3, 2],
      [17, 19, 3, 4, 5],
    ] as const) {
      const { img } = randomImage(w, h, c);
      const r = reduce(img, fx, fy);
      expect([r.width, r.height]).toEqual([Math.ceil(w / fx), Math.ceil(h / fy)]);
      for (let oy = 0; oy < r.height; oy++)
        for (let ox = 0; ox < r.width; ox++)
          for (let k = 0; k < c; k++) {
            let s = 0;
            let n = 0;
            for (let y = oy * fy; y < Math.min(h, oy * fy + fy); y++)
              for (let x = ox * fx; x < Math.min(w, ox * fx + fx); x++, n++) s += img.data[(y * w + x) * c + k];
            expect(r.data[(oy * r.width + ox) * c + k]).toBe(Math.fround(s * (1 / n)));
          }
    }
  });
});

describe('reducingGap', () => {
  it('is only a pre-reduction: gap large enough is the exact resample, and a 4x shrink stays close to it', () => {
    const { img } = randomImage(256, 256, 1);
    const exact = resample(img, 64, 64, 'bicubic');
    expect(resample(img, 64, 64, 'bicubic', undefined, 3).data).toEqual(exact.data); // factor 1: no reduce
    const fast = resample(img, 64, 64, 'bicubic', undefined, 2);
    let sum = 0;
    for (let i = 0; i < exact.data.length; i++) sum += Math.abs(fast.data[i] - exact.data[i]);
    expect(sum / exact.data.length).toBeLessThan(2 / 255);
  });
});
