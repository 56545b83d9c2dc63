// The decoded-image cache holds derived copies of patient images: announced, and bounded by
// --cache-max-gb (oldest entries removed first; a run larger than the cap reads originals).
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheUsage, cachedImageBytes, pruneCache } from '@cxr/data';
import { imageCacheFor } from '../src/train/imageCache.ts';

const work = mkdtempSync(join(tmpdir(), 'cxr-imgcache-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function entry(dir: string, name: string, bytes: number, ageSeconds: number): void {
  mkdirSync(dir, { recursive: true });
  const f = join(dir, name);
  writeFileSync(f, new Uint8Array(bytes));
  const t = Date.now() / 1000 - ageSeconds;
  utimesSync(f, t, t);
}

describe('decoded-image cache bounds', () => {
  it('pruneCache removes the oldest entries until the folder fits', () => {
    const dir = join(work, 'prune');
    entry(join(dir, 'aa'), 'old.u8', 1000, 300);
    entry(join(dir, 'bb'), 'mid.u8', 1000, 200);
    entry(join(dir, 'aa'), 'new.u8', 1000, 100);
    expect(cacheUsage(dir)).toEqual({ bytes: 3000, files: 3 });
    expect(pruneCache(dir, 2500)).toEqual({ bytes: 1000, files: 1 });
    expect(readdirSync(join(dir, 'aa')).sort()).toEqual(['new.u8']);
    expect(pruneCache(dir, 1000)).toEqual({ bytes: 1000, files: 1 });
    expect(cacheUsage(dir)).toEqual({ bytes: 1000, files: 1 });
    expect(cacheUsage(join(work, 'absent'))).toEqual({ bytes: 0, files: 0 });
  });

  it('announces path and sizes, makes room for the run under the cap, and turns off when the run alone exceeds it', () => {
    const cache = join(work, 'cxr-cache');
    const before = process.env.CXR_CACHE;
    process.env.CXR_CACHE = cache;
    try {
      const per = cachedImageBytes(256);
      entry(join(cache, 'images', 'aa'), 'old.u8', 3 * per, 500);
      entry(join(cache, 'images', 'bb'), 'new.u8', per, 10);
      const logs: string[] = [];
      const capGb = (6 * per) / 1024 ** 3; // room for 6 images: the 4 cached + a run of 2 fit, a run of 3 does not
      const cfg = imageCacheFor(224, 3, capGb, (m) => logs.push(m));
      // maxBytes: the loader's writers hold the folder to the cap themselves (an image larger than planned never overshoots it).
      expect(cfg).toMatchObject({ dir: join(cache, 'images'), size: 256, maxBytes: 6 * per });
      expect(cacheUsage(join(cache, 'images')).bytes).toBe(per); // the oldest (3 images' worth) went
      expect(logs[0]).toMatch(
        new RegExp(
          `^decoded-image cache: ${join(cache, 'images')} \\(.* now, 1 oldest entries .* removed; this run adds up to .*; cap .* GB via --cache-max-gb; cxr cache clean empties it\\)$`,
        ),
      );
      expect(imageCacheFor(224, 7, capGb, (m) => logs.push(m))).toBe(false);
      expect(logs[1]).toMatch(/decoded-image cache: off: this run's 7 images need up to .*, over --cache-max-gb/);
      expect(imageCacheFor(224, 1, 0, (m) => logs.push(m))).toBe(false);
      expect(logs[2]).toMatch(/off \(--cache-max-gb 0\)/);
    } finally {
      if (before === undefined) delete process.env.CXR_CACHE;
      else process.env.CXR_CACHE = before;
    }
  });
});
