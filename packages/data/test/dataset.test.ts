import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadImageFolder, stratifiedSplit } from '../src/index.ts';
import { testRng, tmpDir } from './helpers.ts';

const { rng, seed } = testRng('dataset');
const { dir, cleanup } = tmpDir('dataset');
afterAll(cleanup);

const tinyBuf = PNG.sync.write({ width: 4, height: 4, data: Buffer.alloc(16, 7) } as PNG, {
  colorType: 0,
  inputColorType: 0,
  bitDepth: 8,
  inputHasAlpha: false,
});
const tiny = new Uint8Array(tinyBuf.buffer, tinyBuf.byteOffset, tinyBuf.byteLength);

describe('splits and folders', () => {
  it('stratified split keeps class proportions, covers every item once and is seeded', () => {
    const sizes = [20 + rng.int(0, 200), 20 + rng.int(0, 200), 5 + rng.int(0, 50)];
    const items = sizes.flatMap((n, c) => Array.from({ length: n }, (_, i) => ({ c, i })));
    const s1 = stratifiedSplit(items, (x) => x.c, seed);
    const s2 = stratifiedSplit(items, (x) => x.c, seed);
    const s3 = stratifiedSplit(items, (x) => x.c, seed + 1);
    expect(s1).toEqual(s2);
    expect(s1.train).not.toEqual(s3.train);
    const all = [...s1.train, ...s1.val, ...s1.test];
    expect(new Set(all).size).toBe(items.length);
    sizes.forEach((n, c) => {
      const frac = { train: 0.7, val: 0.15, test: 0.15 };
      for (const s of ['train', 'val', 'test'] as const) expect(Math.abs(s1[s].filter((x) => x.c === c).length - n * frac[s])).toBeLessThanOrEqual(1);
    });
  });

  it('root/<class>/* gets a seeded split, sorted class indices, case-insensitive extensions', async () => {
    const root = path.join(dir, 'flat');
    const counts = { zebra: 10 + rng.int(0, 20), apple: 10 + rng.int(0, 20) };
    for (const [c, n] of Object.entries(counts)) {
      mkdirSync(path.join(root, c), { recursive: true });
      for (let i = 0; i < n; i++) writeFileSync(path.join(root, c, `f${i}.${['png', 'PNG', 'Png'][i % 3]}`), tiny);
    }
    const logs: string[] = [];
    const ds = await loadImageFolder(root, { seed, log: (m) => logs.push(m) });
    expect(ds.classes).toEqual(['apple', 'zebra']);
    expect(ds.splitSource).toBe('seeded');
    const c = ds.counts();
    expect(c.train.apple + c.val.apple + c.test.apple).toBe(counts.apple);
    expect(c.train.zebra + c.val.zebra + c.test.zebra).toBe(counts.zebra);
    expect(logs[0]).toMatch(/apple/);
    const again = await loadImageFolder(root, { seed, log: () => {} });
    expect(again.splits).toEqual(ds.splits);
  });

  it('CSV manifest with and without a split column', async () => {
    const root = path.join(dir, 'csv');
    mkdirSync(path.join(root, 'img'), { recursive: true });
    const n = 12 + rng.int(0, 10);
    const lines = ['path,label,split'];
    const lines2 = ['path,label'];
    for (let i = 0; i < n; i++) {
      writeFileSync(path.join(root, 'img', `${i}.png`), tiny);
      const split = ['train', 'val', 'test'][i % 3];
      lines.push(`img/${i}.png,${i % 2 ? 'sick' : 'ok'},${split}`);
      lines2.push(`"img/${i}.png",${i % 2 ? 'sick' : 'ok'}`);
    }
    writeFileSync(path.join(root, 'm.csv'), lines.join('\n') + '\n');
    writeFileSync(path.join(root, 'm2.csv'), lines2.join('\r\n'));
    const ds = await loadImageFolder(root, { manifest: 'm.csv', log: () => {} });
    expect(ds.splitSource).toBe('manifest');
    expect(ds.classes).toEqual(['ok', 'sick']);
    expect(ds.splits.train.length).toBe(Math.ceil(n / 3));
    const ds2 = await loadImageFolder(root, { manifest: 'm2.csv', seed, log: () => {} });
    expect(ds2.splitSource).toBe('seeded');
    expect(Object.values(ds2.splits).reduce((a, s) => a + s.length, 0)).toBe(n);
  });
});
