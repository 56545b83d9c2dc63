import { linkSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { DataLoader, loadImageFolder, trainTransforms } from '../src/index.ts';
import { tmpDir } from './helpers.ts';

const { dir, cleanup } = tmpDir('memory');
afterAll(cleanup);

const MB = 2 ** 20;

/**
 * 10,000 manifest rows (a few small files under 10,000 names) through the worker loader: the
 * batches it yields total ~490 MB, so if finished batches, results or queue entries were kept,
 * memory would grow by hundreds of MB; a bounded loader stays flat after warming up.
 */
describe('DataLoader memory on a 10,000-image manifest', () => {
  it('rss and JS heap growth stay bounded over a full epoch', async () => {
    const size = 64;
    const files: string[] = [];
    mkdirSync(path.join(dir, 'img'), { recursive: true });
    for (let i = 0; i < 6; i++) {
      const grey = Buffer.from(Array.from({ length: size * size }, (_, k) => (k * (i + 3) + i * 17) & 255));
      const f = `img/g${i}.png`;
      writeFileSync(
        path.join(dir, f),
        PNG.sync.write({ width: size, height: size, data: grey } as PNG, { colorType: 0, inputColorType: 0, bitDepth: i % 2 ? 16 : 8, inputHasAlpha: false }),
      );
      files.push(f);
    }
    const rgba = Buffer.alloc(size * size * 4, 120);
    writeFileSync(path.join(dir, 'img/c.jpg'), jpeg.encode({ data: rgba, width: size, height: size }, 90).data);
    files.push('img/c.jpg');
    const N = 10_000;
    const rows = ['path,label,split'];
    // Each row its own name (hard links to the few files): a manifest may list an image only once.
    for (let i = 0; i < N; i++) {
      const f = files[i % files.length];
      const name = `img/r${i}${path.extname(f)}`;
      linkSync(path.join(dir, f), path.join(dir, name));
      rows.push(`${name},${i % 3 === 0 ? 'infected' : 'normal'},train`);
    }
    writeFileSync(path.join(dir, 'manifest.csv'), rows.join('\n'));

    const ds = await loadImageFolder(dir, { manifest: 'manifest.csv', log: () => {} });
    const train = ds.split('train');
    expect(train.samples.length).toBe(N);
    const batchSize = 50;
    const dl = new DataLoader(train, { batchSize, workers: 2, transforms: trainTransforms({ size }), seed: 3, cache: { dir: path.join(dir, 'cache'), size } });
    const mem = () => {
      const m = process.memoryUsage();
      return { rss: m.rss, live: m.heapUsed };
    };
    try {
      let n = 0;
      let k = 0;
      let base = mem();
      let peak = base;
      let bytes = 0;
      for await (const b of dl.epoch(0)) {
        n += b.shape[0];
        bytes += b.images.byteLength;
        if (++k === 20) base = mem(); // after the workers, caches and JIT have warmed up
        if (k > 20) {
          const m = mem();
          peak = { rss: Math.max(peak.rss, m.rss), live: Math.max(peak.live, m.live) };
        }
      }
      expect(n).toBe(N);
      const grow = { rss: (peak.rss - base.rss) / MB, live: (peak.live - base.live) / MB };
      console.log(
        `[memory] ${N} images, ${(bytes / MB).toFixed(0)} MB of batches yielded; growth after warm-up: rss ${grow.rss.toFixed(1)} MB, JS heap ${grow.live.toFixed(1)} MB`,
      );
      expect(bytes / MB).toBeGreaterThan(400);
      expect(grow.rss).toBeLessThan(120);
      expect(grow.live).toBeLessThan(120);
      // (transferred batch buffers show up in rss, not in memoryUsage().arrayBuffers: rss is the check
      // that catches retained batches; keeping them all fails it at ~+400 MB)
    } finally {
      await dl.close();
    }
  }, 60_000);
});
