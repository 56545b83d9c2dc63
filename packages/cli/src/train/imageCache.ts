/**
 * The decoded-image cache of the training pass: derived copies of patient images on disk, so it
 * is announced (path, size now, what this run may add, the cap) and bounded by --cache-max-gb.
 * Oldest entries go first when the cap would be exceeded; a run that alone would exceed the cap
 * reads its originals every epoch instead (slower, never over the cap).
 */
import { join } from 'node:path';
import { cacheUsage, cachedImageBytes, formatBytes, pruneCache, type CacheConfig } from '@cxr/data';
import { cacheDir } from '@cxr/tensor/cacheDir';

/** Shorter side of cached images: enough for the largest crop the run takes. */
export function cachedSideFor(imageSize: number): number {
  return Math.max(256, Math.round((imageSize * 256) / 224));
}

export function imageCacheFor(imageSize: number, images: number, maxGb: number, log: (m: string) => void): CacheConfig | false {
  const dir = join(cacheDir(), 'images');
  if (maxGb <= 0) {
    log('decoded-image cache: off (--cache-max-gb 0); images are decoded from the originals every epoch');
    return false;
  }
  const cap = maxGb * 1024 ** 3;
  const size = cachedSideFor(imageSize);
  const need = images * cachedImageBytes(size);
  if (need > cap) {
    log(`decoded-image cache: off: this run's ${images} images need up to ${formatBytes(need)}, over --cache-max-gb ${maxGb}; raise it to cache`);
    return false;
  }
  const freed = pruneCache(dir, cap - need);
  const now = cacheUsage(dir);
  log(
    `decoded-image cache: ${dir} (${formatBytes(now.bytes)} now${freed.files ? `, ${freed.files} oldest entries (${formatBytes(freed.bytes)}) removed` : ''}; this run adds up to ${formatBytes(need)}; cap ${maxGb} GB via --cache-max-gb; cxr cache clean empties it)`,
  );
  // The writers enforce the cap as well, counting this process's writes on top of the folder as
  // measured: an image larger than planned never takes it past the cap. Two runs training at once
  // on one cache folder count separately and can together pass it by up to one run's share.
  return { dir, size, reducingGap: 2, maxBytes: cap };
}
