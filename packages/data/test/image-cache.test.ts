// The decoded-image cache must never change what training sees or cost it an image: entries keep
// 16-bit sources at 16 bits, a replaced file is never served stale, a cache that cannot be written
// only slows the run, and the folder never grows past its cap or the per-image bound it was planned with.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheUsage, cachedImageBytes, DataLoader, decodeImage, type Dataset } from '../src/index.ts';
import { loadSource } from '../src/loader/process.ts';
import { testRng, tmpDir } from './helpers.ts';

const { rng } = testRng('image-cache');
const { dir, cleanup } = tmpDir('image-cache');
afterAll(cleanup);

function greyPng(width: number, height: number, sample: (i: number) => number, bitDepth: 8 | 16 = 8): Buffer {
  const n = width * height;
  const data =
    bitDepth === 8
      ? Buffer.from(Uint8Array.from({ length: n }, (_, i) => sample(i)))
      : Buffer.from(Uint16Array.from({ length: n }, (_, i) => sample(i)).buffer);
  return PNG.sync.write({ width, height, data } as PNG, { colorType: 0, inputColorType: 0, bitDepth, inputHasAlpha: false });
}

const entries = (cacheDir: string) => (existsSync(cacheDir) ? readdirSync(cacheDir, { recursive: true }).filter((f) => String(f).endsWith('.u8')) : []);

function folder(name: string, count: number, png: (i: number) => Buffer): Dataset {
  const root = path.join(dir, name);
  mkdirSync(root, { recursive: true });
  const samples = Array.from({ length: count }, (_, i) => {
    const file = path.join(root, `${i}.png`);
    writeFileSync(file, png(i));
    return { file, label: i % 2 };
  });
  return { samples, classes: ['a', 'b'] };
}

async function drain(dl: DataLoader): Promise<{ files: string[] }> {
  const files: string[] = [];
  try {
    for await (const b of dl) files.push(...b.files);
  } finally {
    await dl.close();
  }
  return { files };
}

describe('decoded-image cache', () => {
  it('keeps a 12-bit-in-16 source at 16 bits: cold and warm reads equal the direct decode', async () => {
    const w = 40 + rng.int(0, 20);
    const h = 30 + rng.int(0, 20);
    const file = path.join(dir, 'low12.png');
    writeFileSync(
      file,
      greyPng(w, h, () => rng.int(0, 4096), 16),
    );
    const direct = decodeImage(new Uint8Array(readFileSync(file)), file);
    const cfg = { dir: path.join(dir, 'c16'), size: 256 };
    const cold = await loadSource(file, cfg);
    const warm = await loadSource(file, cfg);
    expect([cold.hit, warm.hit]).toEqual([false, true]);
    expect(warm.image.data).toEqual(cold.image.data);
    let maxDiff = 0;
    for (let i = 0; i < direct.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(direct.data[i] - warm.image.data[i]));
    expect(maxDiff).toBeLessThan(1e-6);
    expect(new Set(warm.image.data).size).toBeGreaterThan(100);
    // 8-bit sources still take one byte a sample
    const f8 = path.join(dir, 'eight.png');
    writeFileSync(
      f8,
      greyPng(w, h, () => rng.int(0, 256)),
    );
    await loadSource(f8, cfg);
    const sizes = entries(cfg.dir).map((e) => statSync(path.join(cfg.dir, String(e))).size);
    expect(sizes.sort((a, b) => a - b)).toEqual([16 + w * h, 16 + 2 * w * h]);
  });

  it('a file replaced with the same size and mtime (cp -p, rsync -t) is decoded again, not served stale', async () => {
    const file = path.join(dir, 'replaced.png');
    const dark = greyPng(32, 32, () => 30);
    const bright = greyPng(32, 32, () => 220);
    expect(bright.length).toBe(dark.length);
    writeFileSync(file, dark);
    const stamp = 1_700_000_000; // whole seconds: restored exactly, as cp -p does
    utimesSync(file, stamp, stamp);
    const cfg = { dir: path.join(dir, 'cstale'), size: 256 };
    expect((await loadSource(file, cfg)).image.data[0]).toBeCloseTo(30 / 255, 6);
    writeFileSync(file, bright);
    utimesSync(file, stamp, stamp);
    expect(statSync(file).mtimeMs).toBe(stamp * 1000);
    const again = await loadSource(file, cfg);
    expect(again.hit).toBe(false);
    expect(again.image.data[0]).toBeCloseTo(220 / 255, 6);
  });

  it('a cache folder that cannot be written costs no image: all delivered, one warning naming the folder', async () => {
    const ds = folder('unwritable', 12, (i) => greyPng(24, 24, () => (i * 17) % 256));
    writeFileSync(path.join(dir, 'plain-file'), 'x');
    const cacheDir = path.join(dir, 'plain-file', 'cache');
    const warnings: string[] = [];
    const dl = new DataLoader(ds, {
      batchSize: 4,
      shuffle: false,
      workers: 2,
      onBadImage: 'skip',
      transforms: [{ kind: 'centerCrop', size: 16 }],
      cache: { dir: cacheDir, size: 64 },
      warn: (m) => warnings.push(m),
    });
    const { files } = await drain(dl);
    expect(files).toEqual(ds.samples.map((s) => s.file));
    expect(dl.skipped).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`cannot write to ${cacheDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(ENOTDIR`));
    expect(warnings[0]).not.toContain('\n');
  });

  it('an image larger than the planned per-image bound (240x1920) is delivered but not cached', async () => {
    const size = 256;
    const ds = folder('tall', 3, (i) => greyPng(240, 1920, (k) => (k + i) % 256));
    const cacheDir = path.join(dir, 'ctall');
    const warnings: string[] = [];
    const dl = new DataLoader(ds, {
      batchSize: 2,
      shuffle: false,
      workers: 0,
      transforms: [{ kind: 'centerCrop', size: 16 }],
      cache: { dir: cacheDir, size },
      warn: (m) => warnings.push(m),
    });
    const { files } = await drain(dl);
    expect(files).toHaveLength(3);
    expect(cacheUsage(cacheDir).bytes).toBeLessThanOrEqual(3 * cachedImageBytes(size));
    expect(entries(cacheDir)).toHaveLength(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0], warnings[0]).toMatch(/240x1920x1\), over the .* per image/);
  });

  it('writers never take the folder past maxBytes, across workers; the cap is announced once', async () => {
    const ds = folder('capped', 16, (i) => greyPng(32, 32, (k) => (k * 7 + i) % 256));
    const cacheDir = path.join(dir, 'ccap');
    const entryBytes = 16 + 32 * 32;
    const maxBytes = 5 * entryBytes + 100;
    const warnings: string[] = [];
    const opts = {
      batchSize: 2,
      shuffle: false,
      workers: 2,
      transforms: [{ kind: 'centerCrop' as const, size: 16 }],
      cache: { dir: cacheDir, size: 64, maxBytes },
      warn: (m: string) => warnings.push(m),
    };
    const { files } = await drain(new DataLoader(ds, opts));
    expect(files).toHaveLength(16);
    expect(entries(cacheDir)).toHaveLength(5);
    expect(cacheUsage(cacheDir).bytes).toBeLessThanOrEqual(maxBytes);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/is at its cap of/);
    // a second loader on the same folder (the validation pass) adds nothing either
    await drain(
      new DataLoader(
        folder('capped2', 4, (i) => greyPng(32, 32, () => 3 * i)),
        { ...opts, workers: 0 },
      ),
    );
    expect(cacheUsage(cacheDir).bytes).toBeLessThanOrEqual(maxBytes);
  });
});
