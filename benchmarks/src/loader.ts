import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { DataLoader, loadImageFolder, synthesizeDataset, trainTransforms } from '@cxr/data';

/**
 * Loader throughput at 224 px with the training augmentation (random resized crop, rotation,
 * flip, normalise): 'cold' decodes 1024x1024 PNG files (8- and 16-bit grey) and fills the disk cache,
 * 'cached' is a later epoch served from the cache. Images are synthetic (synthesizeDataset).
 */
export async function benchLoader(opts: { images?: number; size?: number; batchSize?: number; dataDir?: string } = {}): Promise<object> {
  const perClass = Math.ceil((opts.images ?? 64) / 2);
  const size = opts.size ?? 1024;
  const dir = mkdtempSync(path.join(tmpdir(), 'cxr-bench-loader-'));
  try {
    const t0 = performance.now();
    // dataDir: an existing synthesized folder (same seed/size), to skip the slow synthesis when iterating
    const dataDir = opts.dataDir ?? path.join(dir, 'data');
    if (!opts.dataDir) await synthesizeDataset({ out: dataDir, perClass, size, seed: 1, formats: ['png8', 'png16'] });
    const synthSeconds = (performance.now() - t0) / 1000;
    const ds = await loadImageFolder(dataDir, { log: () => {} });
    const all = { classes: ds.classes, samples: [...ds.splits.train, ...ds.splits.val, ...ds.splits.test] };
    const workers = availableParallelism();
    const dl = new DataLoader(all, { batchSize: opts.batchSize ?? 32, transforms: trainTransforms({ size: 224 }), workers, cache: { dir: path.join(dir, 'cache'), size: 256 } });
    const epoch = async (e: number): Promise<number> => {
      const t = performance.now();
      let n = 0;
      for await (const b of dl.epoch(e)) n += b.shape[0];
      return n / ((performance.now() - t) / 1000);
    };
    try {
      const cold = await epoch(0);
      const cached = Math.max(await epoch(1), await epoch(2));
      return {
        name: 'loader',
        images: all.samples.length,
        sourceSize: `${size}x${size}`,
        outputSize: '224x224',
        workers,
        coldImagesPerSec: Math.round(cold * 10) / 10,
        cachedImagesPerSec: Math.round(cached * 10) / 10,
        synthSeconds: Math.round(synthSeconds * 10) / 10,
      };
    } finally {
      await dl.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
