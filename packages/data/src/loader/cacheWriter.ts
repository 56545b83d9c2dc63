/**
 * Writing to the decoded-image cache is an optimisation, never a reason to lose an image or to
 * outgrow the space the user granted. A write that fails (full disk, read-only or unwritable
 * folder) stops caching in this thread; an entry larger than the per-image bound the cap was
 * planned with is not written, nor one that would take the folder past `maxBytes`.
 * The image is delivered decoded in every case, and each reason is reported, for the loader to
 * announce once.
 */
import type { Image } from '../image.ts';
import { cachedImageBytes, cacheUsage, formatBytes } from './cacheBudget.ts';
import { writeCached, type CacheConfig } from './cache.ts';

export interface CacheNotice {
  /** why an entry was not written: the folder cannot be written, is at its cap, or the entry is too large */
  kind: 'unwritable' | 'full' | 'oversize';
  message: string;
}

/** Per cache folder, in this thread: the failed write that stopped caching, and the usage counter when no shared one is given. */
const stopped = new Map<string, CacheNotice>();
const localLedgers = new Map<string, SharedArrayBuffer>();

/** Main-thread counters shared with the workers, one per cache folder, so that all of a run's writers draw on one cap. */
const sharedLedgers = new Map<string, SharedArrayBuffer>();

/**
 * A counter of the bytes below `dir`, shared (as a SharedArrayBuffer) by every loader of this
 * process and their workers; measured again on each call, so a prune since the last run counts.
 */
export function cacheLedger(dir: string): SharedArrayBuffer {
  let sab = sharedLedgers.get(dir);
  if (!sab) sharedLedgers.set(dir, (sab = new SharedArrayBuffer(8)));
  Atomics.store(new BigInt64Array(sab), 0, BigInt(cacheUsage(dir).bytes));
  return sab;
}

function ledgerFor(dir: string, shared?: SharedArrayBuffer): BigInt64Array {
  if (shared) return new BigInt64Array(shared);
  let sab = localLedgers.get(dir);
  if (!sab) {
    sab = new SharedArrayBuffer(8);
    new BigInt64Array(sab)[0] = BigInt(cacheUsage(dir).bytes);
    localLedgers.set(dir, sab);
  }
  return new BigInt64Array(sab);
}

/**
 * Writes one entry unless caching has stopped or the entry must not be written; returns the
 * reason when it was not written (the same notice again while caching stays stopped).
 */
export async function storeEntry(
  cfg: CacheConfig,
  key: string,
  entry: { image: Image; bytes: Uint8Array },
  file: string,
  ledger?: SharedArrayBuffer,
): Promise<CacheNotice | undefined> {
  const halt = stopped.get(cfg.dir);
  if (halt) return halt;
  const size = cfg.size ?? 256;
  const bound = cachedImageBytes(size);
  if (entry.bytes.length > bound) {
    const { width, height, channels } = entry.image;
    return {
      kind: 'oversize',
      message: `decoded-image cache: ${file} would take ${formatBytes(entry.bytes.length)} (${width}x${height}x${channels}), over the ${formatBytes(bound)} per image the cache size was planned with; images like it are decoded from the originals every epoch`,
    };
  }
  let counter: BigInt64Array | undefined;
  const n = BigInt(entry.bytes.length);
  if (cfg.maxBytes !== undefined) {
    counter = ledgerFor(cfg.dir, ledger);
    if (Atomics.add(counter, 0, n) + n > BigInt(Math.floor(cfg.maxBytes))) {
      Atomics.sub(counter, 0, n);
      // not sticky: a prune (or a smaller entry) makes room again, and the counter says so
      return {
        kind: 'full',
        message: `decoded-image cache: ${cfg.dir} is at its cap of ${formatBytes(cfg.maxBytes)}; images that do not fit are decoded from the originals every epoch`,
      };
    }
  }
  try {
    await writeCached(cfg, key, entry.bytes);
    return undefined;
  } catch (e) {
    if (counter) Atomics.sub(counter, 0, n);
    const notice: CacheNotice = {
      kind: 'unwritable',
      message: `decoded-image cache: cannot write to ${cfg.dir} (${(e as Error).message.split('\n')[0]}); caching stopped, images are decoded from the originals`,
    };
    stopped.set(cfg.dir, notice);
    return notice;
  }
}
