import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DataLoader,
  WorkerPool,
  epochOrder,
  evalTransforms,
  loadImageFolder,
  synthesizeDataset,
  toBatches,
  trainTransforms,
  type Dataset,
} from '../src/index.ts';
import { testRng, tmpDir } from './helpers.ts';

const { rng, seed } = testRng('loader');
const { dir, cleanup } = tmpDir('loader');
let train: Dataset;
afterAll(cleanup);

beforeAll(async () => {
  await synthesizeDataset({ out: path.join(dir, 'synth'), perClass: 20, size: 96, seed });
  train = (await loadImageFolder(path.join(dir, 'synth'), { log: () => {} })).split('train');
});

const tf = trainTransforms({ size: 48 });

async function collect(dl: DataLoader, epoch: number) {
  const out = [];
  for await (const b of dl.epoch(epoch)) out.push(b);
  return out;
}

describe('sampling', () => {
  it('each epoch is a seeded permutation; epochs differ; batches and dropLast', () => {
    const n = 10 + rng.int(0, 100);
    const labels = Int32Array.from({ length: n }, () => rng.int(0, 3));
    const o = (epoch: number) => epochOrder(labels, 3, { seed, epoch, shuffle: true, balanced: false });
    expect([...o(0)].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(o(0)).toEqual(o(0));
    expect(o(0)).not.toEqual(o(1));
    const bs = 1 + rng.int(0, 12);
    const keep = toBatches(o(0), bs, false);
    const drop = toBatches(o(0), bs, true);
    expect(keep.length).toBe(Math.ceil(n / bs));
    expect(drop.length).toBe(Math.floor(n / bs));
    expect(drop.every((b) => b.length === bs)).toBe(true);
    expect(keep.flat()).toEqual(o(0));
  });

  it('balanced sampling draws classes equally however skewed the labels', () => {
    const big = 200 + rng.int(0, 300);
    const small = 5 + rng.int(0, 20);
    const labels = Int32Array.from([...Array(big).fill(0), ...Array(small).fill(1)]);
    const ord = epochOrder(labels, 2, { seed, epoch: 3, shuffle: true, balanced: true });
    expect(ord.length).toBe(big + small);
    const ones = ord.filter((i) => labels[i] === 1).length;
    expect(Math.abs(ones - (big + small) / 2)).toBeLessThanOrEqual(1);
    // every minority image appears, and as evenly as possible
    const seen = new Map<number, number>();
    for (const i of ord) if (labels[i] === 1) seen.set(i, (seen.get(i) ?? 0) + 1);
    expect(seen.size).toBe(small);
    const reps = [...seen.values()];
    expect(Math.max(...reps) - Math.min(...reps)).toBeLessThanOrEqual(1);
  });
});

describe('DataLoader', () => {
  it('yields CHW float batches with labels and files; workers match the calling thread exactly', async () => {
    const bs = 3 + rng.int(0, 6);
    const inproc = new DataLoader(train, { batchSize: bs, transforms: tf, workers: 0, seed });
    const pooled = new DataLoader(train, { batchSize: bs, transforms: tf, workers: 2, prefetch: 2, seed });
    try {
      const a = await collect(inproc, 1);
      const b = await collect(pooled, 1);
      expect(a.length).toBe(Math.ceil(train.samples.length / bs));
      expect(b.length).toBe(a.length);
      for (let k = 0; k < a.length; k++) {
        expect(a[k].shape).toEqual([a[k].labels.length, 3, 48, 48]);
        expect(a[k].images.length).toBe(a[k].labels.length * 3 * 48 * 48);
        expect(b[k].files).toEqual(a[k].files);
        expect(Array.from(b[k].labels)).toEqual(Array.from(a[k].labels));
        expect(b[k].images).toEqual(a[k].images);
      }
      const files = a.flatMap((x) => x.files);
      expect(new Set(files).size).toBe(train.samples.length);
      for (const x of a) x.files.forEach((f, i) => expect(x.labels[i]).toBe(train.samples.find((s) => s.file === f)!.label));
      const next = await collect(inproc, 2);
      expect(next.flatMap((x) => x.files)).not.toEqual(files);
    } finally {
      await pooled.close();
    }
  });

  it('start() boots the workers ahead of the first batch and changes no result', async () => {
    const dl = new DataLoader(train, { batchSize: 7, transforms: tf, workers: 2, seed });
    try {
      await dl.start();
      await dl.start(); // idempotent
      const a = await collect(dl, 5);
      const b = await collect(new DataLoader(train, { batchSize: 7, transforms: tf, workers: 0, seed }), 5);
      expect(a.map((x) => x.images)).toEqual(b.map((x) => x.images));
    } finally {
      await dl.close();
    }
  });

  it('takes over a pool started earlier, and is not moved by later edits to the caller’s sample list', async () => {
    const pool = new WorkerPool(1);
    const samples = [...train.samples];
    const dl = new DataLoader({ ...train, samples }, { batchSize: 5, transforms: tf, pool, seed });
    try {
      expect(dl.opts.workers).toBe(1);
      const before = await collect(dl, 2);
      // A de-duplication after construction, as `train --dedupe` once did: the loader keeps its list.
      samples.splice(0, 3);
      const after = await collect(dl, 2);
      expect(after.map((b) => b.files)).toEqual(before.map((b) => b.files));
      expect(after.map((b) => b.images)).toEqual(before.map((b) => b.images));
      expect(after.flatMap((b) => b.files)).toHaveLength(train.samples.length);
    } finally {
      await dl.close();
    }
    // close() ended the pool it took over
    await expect(pool.describe(train.samples[0].file)).rejects.toThrow();
  });

  it('dropLast and balanced options reach the batches', async () => {
    const bs = 4 + rng.int(0, 4);
    const dl = new DataLoader(train, { batchSize: bs, transforms: tf, workers: 0, dropLast: true, balanced: true, seed });
    const bb = await collect(dl, 0);
    expect(bb.length).toBe(Math.floor(train.samples.length / bs));
    expect(dl.length).toBe(bb.length);
    expect(bb.every((b) => b.shape[0] === bs)).toBe(true);
    const labels = bb.flatMap((b) => Array.from(b.labels));
    const ones = labels.filter((l) => l === 1).length;
    expect(Math.abs(ones - labels.length / 2)).toBeLessThanOrEqual(bs);
  });

  it('the disk cache is filled on the first epoch and gives identical batches afterwards', async () => {
    const cacheDir = path.join(dir, 'cache');
    const opts = { batchSize: 5, transforms: tf, workers: 2, seed, cache: { dir: cacheDir, size: 64 } } as const;
    const dl = new DataLoader(train, opts);
    try {
      const cold = await collect(dl, 4);
      const entries = readdirSync(cacheDir, { recursive: true }).filter((f) => String(f).endsWith('.u8'));
      expect(entries.length).toBe(train.samples.length);
      // cached images are shrunk: 16-byte header + 64x64 (sources are 96x96; grey PNG or RGB JPEG; 16-bit PNG at 2 bytes a sample)
      for (const e of entries) expect([16 + 64 * 64, 16 + 2 * 64 * 64, 16 + 3 * 64 * 64]).toContain(readFileSync(path.join(cacheDir, String(e))).length);
      const warm = await collect(dl, 4);
      expect(warm.map((b) => b.images)).toEqual(cold.map((b) => b.images));
      const uncached = await collect(new DataLoader(train, { ...opts, cache: false, workers: 0 }), 4);
      expect(uncached.map((b) => b.files)).toEqual(cold.map((b) => b.files));
    } finally {
      await dl.close();
    }
  });

  it('reuseBuffers: the same batches, each valid until the next is asked for, in memory that is written again', async () => {
    const bs = 5;
    const copies = async (dl: DataLoader, epoch: number) => {
      const out: Array<{ images: Float32Array; files: string[]; buffer: ArrayBufferLike }> = [];
      for await (const b of dl.epoch(epoch)) out.push({ images: b.images.slice(), files: b.files, buffer: b.images.buffer });
      return out;
    };
    const plain = await collect(new DataLoader(train, { batchSize: bs, transforms: tf, workers: 0, seed }), 3);
    expect(plain.at(-1)!.labels.length).toBeLessThan(bs); // a partial last batch: a smaller view of a reused buffer
    const inproc = new DataLoader(train, { batchSize: bs, transforms: tf, workers: 0, seed, reuseBuffers: true, prefetch: 2 });
    const pooled = new DataLoader(train, { batchSize: bs, transforms: tf, workers: 2, seed, reuseBuffers: true });
    try {
      for (const dl of [inproc, pooled]) {
        for (const epoch of [3, 3]) {
          const got = await copies(dl, epoch);
          expect(got.map((g) => g.files)).toEqual(plain.map((p) => p.files));
          expect(got.map((g) => g.images)).toEqual(plain.map((p) => p.images));
        }
      }
      // on the calling thread the buffers keep their identity: a handful of them serve every batch
      const buffers = new Set((await copies(inproc, 4)).map((g) => g.buffer));
      expect(buffers.size).toBeLessThanOrEqual(4);
      expect(buffers.size).toBeLessThan(plain.length);
    } finally {
      await pooled.close();
    }
  });

  it('deferNormalize: one-channel grey batches, three for colour, that normalise on the host to the same bits as before', async () => {
    // colour PNGs (channels differ, so they stay RGB) after the grey training images: with a
    // fixed order the first batches are all grey and the last ones mix grey and colour
    const colour = Array.from({ length: 3 }, (_, k) => {
      const [w, h] = [50 + rng.int(0, 30), 50 + rng.int(0, 30)];
      const data = Buffer.from(Array.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? 255 : rng.int(0, 256))));
      const file = path.join(dir, `colour${k}.png`);
      writeFileSync(file, PNG.sync.write({ width: w, height: h, data } as PNG));
      return { ...train.samples[k], file };
    });
    const ds: Dataset = { ...train, samples: [...train.samples.slice(0, 12), ...colour] };
    const bs = 5;
    const opts = { batchSize: bs, transforms: tf, seed, shuffle: false };
    const old = await collect(new DataLoader(ds, { ...opts, workers: 0 }), 2);
    const [mean, std] = [
      [0.485, 0.456, 0.406],
      [0.229, 0.224, 0.225],
    ];
    // what the CPU path computes (toCHW): (v - mean) * (1 / std) in double, stored as float32
    const normalised = (b: (typeof old)[number]) => {
      const [n, c, h, w] = b.shape;
      const out = new Float32Array(n * 3 * h * w);
      for (let i = 0; i < n; i++)
        for (let ch = 0; ch < 3; ch++)
          for (let p = 0; p < h * w; p++) out[(i * 3 + ch) * h * w + p] = (b.images[(i * c + (c === 1 ? 0 : ch)) * h * w + p] - mean[ch]) * (1 / std[ch]);
      return out;
    };
    const pooled = new DataLoader(ds, { ...opts, workers: 2, deferNormalize: true, reuseBuffers: true });
    try {
      for (const dl of [new DataLoader(ds, { ...opts, workers: 0, deferNormalize: true }), pooled]) {
        const got = [];
        for await (const b of dl.epoch(2)) got.push({ ...b, images: b.images.slice() });
        expect(got.map((b) => b.shape[1])).toEqual([1, 1, 3]);
        expect(got.map((b) => b.files)).toEqual(old.map((b) => b.files));
        for (const [k, b] of got.entries()) {
          expect(b.normalize).toEqual({ mean, std });
          expect(b.images.length).toBe(b.shape.reduce((x, y) => x * y, 1));
          expect(new Uint32Array(normalised(b).buffer)).toEqual(new Uint32Array(old[k].images.buffer, old[k].images.byteOffset, old[k].images.length));
        }
      }
    } finally {
      await pooled.close();
    }
  });
});

describe('DataLoader keepInMemory', () => {
  const batches = async (dl: DataLoader, epoch: number) => {
    const out = [];
    // reuseBuffers: a batch's images are written again after the next request, so copy them.
    for await (const b of dl.epoch(epoch)) out.push({ ...b, images: b.images.slice() });
    return out;
  };

  it('decodes a fixed pass once: later epochs give the same batches without the files', async () => {
    const copyDir = path.join(dir, `kept-${rng.int(0, 1e9)}`);
    cpSync(path.join(dir, 'synth'), copyDir, { recursive: true });
    const val = (await loadImageFolder(copyDir, { log: () => {} })).split('val');
    const opts = {
      batchSize: 3 + rng.int(0, 4),
      shuffle: false,
      workers: 1,
      transforms: evalTransforms({ size: 32 }),
      reuseBuffers: true,
      onBadImage: 'skip' as const,
      warn: () => {},
    };
    const kept = new DataLoader(val, { ...opts, keepInMemory: 1e9 });
    const capped = new DataLoader(val, { ...opts, keepInMemory: 1 });
    try {
      expect(kept.keepsBatches).toBe(true);
      const first = await batches(kept, 0);
      expect(first.length).toBe(kept.length);
      expect(kept.keptInMemory).toBe(first.reduce((n, b) => n + b.images.byteLength, 0));
      await batches(capped, 0);
      expect(capped.keptInMemory).toBe(0);
      for (const s of val.samples) rmSync(s.file);
      const again = await batches(kept, 1);
      expect(again.map((b) => b.files)).toEqual(first.map((b) => b.files));
      expect(again.map((b) => Array.from(b.labels))).toEqual(first.map((b) => Array.from(b.labels)));
      expect(again.map((b) => b.shape)).toEqual(first.map((b) => b.shape));
      for (let k = 0; k < first.length; k++) expect(again[k].images).toEqual(first[k].images);
      expect(again.every((b) => b.epoch === 1)).toBe(true);
      // Over its cap nothing was kept: the files are gone, so every image is skipped.
      expect(await batches(capped, 1)).toEqual([]);
    } finally {
      await kept.close();
      await capped.close();
    }
  });

  it('keeps nothing where epochs differ: shuffling, class balancing, random transforms', () => {
    const o = { keepInMemory: 1e9, transforms: evalTransforms({ size: 32 }) };
    expect(new DataLoader(train, { ...o, shuffle: true }).keepsBatches).toBe(false);
    expect(new DataLoader(train, { ...o, shuffle: false, balanced: true }).keepsBatches).toBe(false);
    expect(new DataLoader(train, { ...o, shuffle: false, transforms: tf }).keepsBatches).toBe(false);
    expect(new DataLoader(train, { ...o, shuffle: false, keepInMemory: 0 }).keepsBatches).toBe(false);
    expect(new DataLoader(train, { ...o, shuffle: false }).keepsBatches).toBe(true);
  });
});
