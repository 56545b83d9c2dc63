// The data audit decodes every file; for the training files it also writes the loader's
// decoded-image cache entries, so that the first epoch reads them instead of decoding the files a
// second time; for evaluation loaders it prepares the images (decoded and transformed), so that
// their first pass decodes nothing. Both must be exactly what the loaders would make themselves.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataLoader, auditDataset, evalTransforms, synthesizeDataset, trainTransforms, type AuditSample, type Batch } from '../src/index.ts';
import { cacheKey, type CacheConfig } from '../src/loader/cache.ts';
import { loadSource, runBatch } from '../src/loader/process.ts';
import { REAL_ROOT, realDataAvailable, testRng, tmpDir } from './helpers.ts';

const { seed } = testRng('audit-image-cache');
const { dir, cleanup } = tmpDir('audit-image-cache');
afterAll(cleanup);

const listed = (root: string, split: string, label: string) =>
  readdirSync(path.join(root, split, label))
    .sort()
    .map((f) => path.join(root, split, label, f));

function entryBytes(cfg: CacheConfig, key: string): Buffer | null {
  try {
    return readFileSync(path.join(cfg.dir, key.slice(0, 2), `${key}.u8`));
  } catch {
    return null;
  }
}

async function checkFill(samples: AuditSample[], size: number, tag: string): Promise<void> {
  // Every other file is a "training" file: only those get entries.
  const training = new Set(samples.filter((_, i) => i % 2 === 0).map((s) => s.file));
  const byAudit: CacheConfig = { dir: path.join(dir, `${tag}-audit`), size, reducingGap: 2 };
  const byLoader: CacheConfig = { ...byAudit, dir: path.join(dir, `${tag}-loader`) };
  await auditDataset(samples, { seed: 1, workers: 2, imageCache: { config: byAudit, files: training } });
  for (const s of samples) {
    const key = await cacheKey(s.file, byAudit);
    const written = entryBytes(byAudit, key);
    if (!training.has(s.file)) {
      expect(written, `${s.file} is not a training file`).toBeNull();
      continue;
    }
    expect(written, `no entry for ${s.file}`).not.toBeNull();
    const { hit } = await loadSource(s.file, byLoader);
    expect(hit).toBe(false);
    expect(written!.equals(entryBytes(byLoader, key)!), `${s.file}: the audit's entry differs from the loader's`).toBe(true);
  }
  // The loader now finds every training file in the audit's cache.
  const items = [...training].map((file) => ({ file, seed: 0 }));
  const r = await runBatch({ items, transforms: [{ kind: 'centerCrop', size: 16 }], cache: byAudit, mean: [0, 0, 0], std: [1, 1, 1] });
  expect(r.failed).toEqual([]);
  expect(r.cacheHits).toBe(items.length);
}

describe('the data audit fills the training image cache', () => {
  it('with the bytes the loader would write, for the training files only (synthetic PNG 8/16-bit and JPEG)', async () => {
    const root = path.join(dir, 'synth');
    await synthesizeDataset({ out: root, perClass: 10, size: 40, seed });
    const samples: AuditSample[] = ['train', 'val', 'test'].flatMap((split) =>
      ['infected', 'normal'].flatMap((label) => listed(root, split, label).map((file) => ({ file, split, label }))),
    );
    // 40 px images are under the cache's side: stored as they are; 24 shrinks them.
    await checkFill(samples, 24, 'synth');
  }, 120_000);

  it.skipIf(!realDataAvailable())(
    'on real X-rays in mixed formats (colour and grey JPEG, 8/16-bit PNG), shrunk to 256 px',
    async () => {
      const files = listed(REAL_ROOT, 'train', 'infected');
      const pick = [...files.filter((f) => /\.jpe?g$/i.test(f)).slice(0, 8), ...files.filter((f) => f.endsWith('.png')).slice(0, 6)];
      expect(pick.length).toBeGreaterThanOrEqual(12);
      await checkFill(
        pick.map((file) => ({ file, split: 'train', label: 'infected' })),
        256,
        'real',
      );
    },
    120_000,
  );
});

async function batches(dl: DataLoader, epoch = 0): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of dl.epoch(epoch)) out.push({ ...b, images: b.images.slice() });
  return out;
}

describe('the data audit prepares evaluation images', () => {
  it.skipIf(!realDataAvailable())(
    'that give an evaluation loader the batches it would decode, without reading the files; a byte cap bounds them',
    async () => {
      // ieee8023's files include colour JPEG and PNG with grey content (they come back grey) and one true colour JPEG.
      const files = [
        ...listed(REAL_ROOT, 'val', 'infected')
          .filter((f) => f.includes('ieee8023__'))
          .slice(0, 7),
        ...listed(REAL_ROOT, 'val', 'normal').slice(0, 6),
      ];
      expect(files).toHaveLength(13);
      const samples: AuditSample[] = files.map((file) => ({ file, split: 'val', label: file.includes('/infected/') ? 'infected' : 'normal' }));
      const transforms = evalTransforms({ size: 40 });
      const all = new Set(files);
      const { prepared } = await auditDataset(samples, { seed: 1, workers: 2, prepare: { transforms, files: all, maxBytes: 2 ** 30 } });
      expect(prepared.transforms).toEqual(transforms);
      const copy = () => ({ transforms, images: new Map(prepared.images) });
      expect([...prepared.images.keys()].sort()).toEqual([...files].sort());
      const dataset = { classes: ['infected', 'normal'], samples: files.map((file) => ({ file, label: file.includes('/infected/') ? 0 : 1 })) };
      let plainFirst!: Batch;
      for (const deferNormalize of [true, false]) {
        const plain = await batches(new DataLoader(dataset, { batchSize: 4, shuffle: false, transforms, workers: 0, deferNormalize }));
        const fed = new DataLoader(dataset, { batchSize: 4, shuffle: false, transforms, workers: 0, deferNormalize, prepared: copy() });
        expect(await batches(fed)).toEqual(plain);
        if (deferNormalize) plainFirst = plain[0];
        // Each prepared image is used once; the second pass decodes the files again, as before.
        expect(await batches(fed, 1)).toEqual(plain.map((b) => ({ ...b, epoch: 1 })));
      }
      // Nothing is read: batches of prepared images come for files that do not exist.
      const absent = files.slice(0, 4).map((f, i) => path.join(dir, `absent-${i}-${path.basename(f)}`));
      const byAbsent = { transforms, images: new Map(absent.map((f, i) => [f, prepared.images.get(files[i])!])) };
      const staged = { classes: ['infected', 'normal'], samples: absent.map((file) => ({ file, label: 0 })) };
      const fromMemory = await batches(
        new DataLoader(staged, { batchSize: 4, shuffle: false, transforms, workers: 0, deferNormalize: true, prepared: byAbsent }),
      );
      expect(fromMemory.map((b) => b.files)).toEqual([absent]);
      expect(fromMemory[0].images).toEqual(plainFirst.images);
      // A cap keeps images in sample order while they fit.
      const maxBytes = 3 * 40 * 40 * 4;
      let used = 0;
      const fit = files.filter((f) => {
        const n = prepared.images.get(f)!.data.byteLength;
        if (used + n > maxBytes) return false;
        used += n;
        return true;
      });
      const capped = await auditDataset(samples, { seed: 1, workers: 0, prepare: { transforms, files: all, maxBytes } });
      expect([...capped.prepared.images.keys()]).toEqual(fit);
      expect(fit.length).toBeGreaterThanOrEqual(1);
      expect(fit.length).toBeLessThan(files.length);
      // Random transforms would hand out the same image every epoch: refused.
      expect(() => new DataLoader(dataset, { transforms: trainTransforms({ size: 40 }), prepared: copy(), workers: 0 })).toThrow(
        /prepared images need transforms that give the same image every epoch/,
      );
      // Images made with other transforms (another size) would be laid out as they are: refused.
      expect(() => new DataLoader(dataset, { transforms: evalTransforms({ size: 48 }), prepared: copy(), workers: 0 })).toThrow(
        /the prepared images were made with other transforms .* than this loader's/,
      );
    },
    120_000,
  );
});
