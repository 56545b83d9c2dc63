import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32, resample, type Image } from '@cxr/data';
import { afterAll, describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const PY = '/usr/bin/python3';

function pilAvailable(): boolean {
  try {
    execFileSync(PY, ['-c', 'import PIL'], { stdio: 'ignore' });
    return true;
  } catch {
    const msg = `${PY} with PIL not available (apt-get install python3-pil): resize parity tests are SKIPPED`;
    if (process.env.CI === 'true') throw new Error(msg.replace('are SKIPPED', 'are required in CI'));
    console.warn(`\n${'!'.repeat(100)}\n!! ${msg}\n${'!'.repeat(100)}\n`);
    return false;
  }
}

const have = existsSync(PY) && pilAvailable();
const dir = mkdtempSync(path.join(tmpdir(), 'cxr-parity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const seed = process.env.TEST_SEED ? Number(process.env.TEST_SEED) : (Math.random() * 2 ** 32) >>> 0;
console.log(`[parity] random seed ${seed} (set TEST_SEED to reproduce)`);
const rng = mulberry32(seed);

/** Random 8-bit image mixing smooth gradients, hard edges and noise (what X-rays contain). */
function randomImage8(w: number, h: number, c: 1 | 3): Uint8Array {
  const out = new Uint8Array(w * h * c);
  const fx = rng.uniform(1, 8);
  const fy = rng.uniform(1, 8);
  const edge = rng.uniform(0.2, 0.8);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) {
        let v = 128 + 80 * Math.sin((fx * x) / w + k) * Math.cos((fy * y) / h);
        if (x / w > edge) v += 60;
        v += rng.uniform(-40, 40);
        out[(y * w + x) * c + k] = Math.max(0, Math.min(255, Math.round(v)));
      }
  return out;
}

function pil(bytes: Uint8Array, w: number, h: number, c: 1 | 3, filter: string, ow: number, oh: number): Uint8Array {
  const src = path.join(dir, 'in.raw');
  const dst = path.join(dir, 'out.raw');
  writeFileSync(src, bytes);
  execFileSync(PY, [path.join(here, 'pil_resize.py'), src, dst, String(w), String(h), c === 1 ? 'L' : 'RGB', filter, String(ow), String(oh)]);
  return new Uint8Array(readFileSync(dst));
}

describe.skipIf(!have)('resize parity with PIL (8-bit)', () => {
  for (const filter of ['bilinear', 'bicubic'] as const) {
    for (const dirn of ['downscale', 'upscale'] as const) {
      it(`${filter} ${dirn}: mean |ours - PIL| < 1 grey level`, () => {
        for (let t = 0; t < 3; t++) {
          const c: 1 | 3 = t === 2 ? 3 : 1;
          const w = 40 + rng.int(0, 200);
          const h = 40 + rng.int(0, 200);
          const f = dirn === 'downscale' ? rng.uniform(0.1, 0.9) : rng.uniform(1.1, 3.5);
          const ow = Math.max(1, Math.round(w * f * rng.uniform(0.9, 1.1)));
          const oh = Math.max(1, Math.round(h * f));
          const src8 = randomImage8(w, h, c);
          const img: Image = { width: w, height: h, channels: c, data: Float32Array.from(src8, (v) => v / 255) };
          const ours = resample(img, ow, oh, filter);
          const ref = pil(src8, w, h, c, filter, ow, oh);
          expect(ours.data.length).toBe(ref.length);
          let sum = 0;
          let max = 0;
          for (let i = 0; i < ref.length; i++) {
            const d = Math.abs(ours.data[i] * 255 - ref[i]);
            sum += d;
            max = Math.max(max, d);
          }
          const mean = sum / ref.length;
          console.log(`[parity] ${filter} ${w}x${h}x${c} -> ${ow}x${oh}: mean ${mean.toFixed(3)}, max ${max.toFixed(2)}`);
          expect(mean).toBeLessThan(1);
          expect(max).toBeLessThan(2); // PIL rounds its intermediate pass to 8 bits; we do not
        }
      });
    }
  }
});
