import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { auditDataset, synthesizeDataset, type AuditSample } from '../src/index.ts';
import { WorkerPool } from '../src/loader/pool.ts';
import { testRng, tmpDir } from './helpers.ts';

const { seed } = testRng('audit-workers');
const { dir, cleanup } = tmpDir('audit-workers');
afterAll(cleanup);

describe('data audit in worker threads', () => {
  it('measures what the calling thread measures, in the same order, unreadable files included', async () => {
    await synthesizeDataset({ out: dir, perClass: 8, size: 48, seed });
    const samples: AuditSample[] = [];
    for (const split of ['train', 'val', 'test'])
      for (const label of ['infected', 'normal'])
        for (const f of readdirSync(path.join(dir, split, label)).sort()) samples.push({ file: path.join(dir, split, label, f), split, label });
    const broken = path.join(dir, 'train', 'normal', 'broken.png');
    writeFileSync(broken, 'not a png');
    samples.splice(3, 0, { file: broken, split: 'train', label: 'normal' });
    let progress = 0;
    const describeSpy = vi.spyOn(WorkerPool.prototype, 'describe');
    const here = await auditDataset(samples, { seed: 1, workers: 0 });
    expect(describeSpy).not.toHaveBeenCalled();
    const pooled = await auditDataset(samples, { seed: 1, workers: 2, onProgress: (done) => void (progress = done) });
    // Every file went to the threads.
    expect(describeSpy).toHaveBeenCalledTimes(samples.length);
    describeSpy.mockRestore();
    expect(progress).toBe(samples.length);
    expect(here.unreadable.map((u) => u.file)).toEqual([broken]);
    expect(pooled.unreadable).toEqual(here.unreadable);
    expect(pooled.facts).toEqual(here.facts);
    expect(pooled.facts.map((f) => f.file)).toEqual(samples.filter((s) => s.file !== broken).map((s) => s.file));
    expect(pooled.duplicates).toEqual(here.duplicates);
    expect(pooled.probe?.scores).toEqual(here.probe?.scores);
  }, 120_000);
});
