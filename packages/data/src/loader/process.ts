import { decodeImage } from '../decode/index.ts';
import { ImageDecodeError } from '../decode/errors.ts';
import { readBytes } from '../fsutil.ts';
import type { Image } from '../image.ts';
import { mulberry32 } from '../rng.ts';
import { toCHW, toPlanes } from '../transforms/normalize.ts';
import { applyTransforms, type TransformSpec } from '../transforms/pipeline.ts';
import { cacheKey, readCached, toCacheImage, type CacheConfig } from './cache.ts';
import { storeEntry, type CacheNotice } from './cacheWriter.ts';

/** One batch of work, as posted to a worker (plain data only). */
export interface BatchJob {
  items: Array<{ file: string; seed: number }>;
  transforms: TransformSpec[];
  cache?: CacheConfig;
  /** the bytes below cache.dir, shared by every writer of the run (see `cacheLedger`), when cache.maxBytes is set */
  cacheLedger?: SharedArrayBuffer;
  mean: number[];
  std: number[];
  /**
   * Leave normalisation and the grey-to-RGB expansion to the consumer: samples stay in [0, 1] and a
   * batch whose images are all grey has one channel (a third of the bytes to move and upload).
   */
  deferNormalize?: boolean;
  /** a buffer to write the images into when it is large enough (reused batches; moved to the worker) */
  out?: ArrayBuffer;
}

export interface BatchResult {
  /** N*C*H*W, CHW per image, only for the images that loaded */
  images: Float32Array;
  /** 3, or 1 when deferNormalize and every image is grey */
  channels: 1 | 3;
  height: number;
  width: number;
  /** index into job.items of each image in `images` */
  ok: number[];
  failed: Array<{ index: number; file: string; reason: string }>;
  cacheHits: number;
  /** why cache entries were not written in this batch, one per kind, for the loader to announce once */
  cacheNotices?: CacheNotice[];
}

export async function loadSource(file: string, cache?: CacheConfig, ledger?: SharedArrayBuffer): Promise<{ image: Image; hit: boolean; notice?: CacheNotice }> {
  if (!cache) return { image: decodeImage(await readBytes(file), file, { greyIfNeutral: true }), hit: false };
  const key = await cacheKey(file, cache);
  const cached = await readCached(cache, key);
  if (cached) return { image: cached, hit: true };
  const entry = toCacheImage(decodeImage(await readBytes(file), file, { greyIfNeutral: true }), cache);
  // the entry's image either way, so an image looks the same whether or not it made it to disk
  const notice = await storeEntry(cache, key, entry, file, ledger);
  return { image: entry.image, hit: false, notice };
}

export async function runBatch(job: BatchJob): Promise<BatchResult> {
  const outs: Image[] = [];
  const ok: number[] = [];
  const failed: BatchResult['failed'] = [];
  const notices = new Map<CacheNotice['kind'], CacheNotice>();
  let cacheHits = 0;
  for (let i = 0; i < job.items.length; i++) {
    const { file, seed } = job.items[i];
    try {
      const { image, hit, notice } = await loadSource(file, job.cache, job.cacheLedger);
      if (hit) cacheHits++;
      if (notice && !notices.has(notice.kind)) notices.set(notice.kind, notice);
      outs.push(applyTransforms(image, job.transforms, mulberry32(seed)));
      ok.push(i);
    } catch (e) {
      const reason = e instanceof ImageDecodeError ? e.reason : (e as Error).message;
      failed.push({ index: i, file, reason });
    }
  }
  const result = assembleBatch(job, outs, ok, failed, cacheHits);
  if (notices.size) result.cacheNotices = [...notices.values()];
  return result;
}

/**
 * Lays transformed images out as one batch: CHW planes, normalised or not as the job says, in
 * `job.out` when it is large enough. `ok[k]` is the index into `job.items` of `outs[k]`.
 */
export function assembleBatch(
  job: Pick<BatchJob, 'items' | 'mean' | 'std' | 'deferNormalize' | 'out'>,
  outs: Image[],
  ok: number[],
  failed: BatchResult['failed'],
  cacheHits: number,
): BatchResult {
  const height = outs[0]?.height ?? 0;
  const width = outs[0]?.width ?? 0;
  const channels = job.deferNormalize && outs.every((im) => im.channels === 1) ? 1 : 3;
  const per = channels * height * width;
  const need = per * outs.length;
  // every element of the view is written below, so a reused buffer's old contents never show
  const images = job.out && job.out.byteLength >= need * 4 ? new Float32Array(job.out, 0, need) : new Float32Array(need);
  outs.forEach((im, k) => {
    if (im.width !== width || im.height !== height) {
      throw new Error(
        `transforms produced ${im.width}x${im.height} for ${job.items[ok[k]].file} but ${width}x${height} for ${job.items[ok[0]].file}: end the pipeline with a crop or an exact resize`,
      );
    }
    if (job.deferNormalize) toPlanes(im, images, k * per, channels);
    else toCHW(im, images, k * per, job.mean, job.std);
  });
  return { images, channels, height, width, ok, failed, cacheHits };
}
