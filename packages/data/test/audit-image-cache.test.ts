// The data audit decodes every file; for the training files it also writes the loader's
// decoded-image cache entries, so that the first epoch reads them instead of decoding the files a
// second time. The entries must be exactly those the loader would write itself.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditDataset, synthesizeDataset, type AuditSample } from '../src/index.ts';
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
