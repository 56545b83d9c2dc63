import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Image } from '../image.ts';
import { greyIfNeutral } from '../transforms/grey.ts';
import { resize, type Filter } from '../transforms/resize.ts';
import { storeEntry, type CacheNotice } from './cacheWriter.ts';

/**
 * On-disk cache of decoded images, shrunk so the shorter side is `size`. Sources of 8 bits are
 * stored as 8-bit samples, deeper ones (16-bit PNG) as 16-bit: training must see the pixels that
 * evaluation decodes, and a 12-bit exposure quantised to 8 bits keeps only a handful of grey levels.
 * Decoding a 2500 px PNG costs ~100 ms, reading a 256 px raw file well under 1 ms, so every epoch
 * after the first is cheap. Keys include path, size, mtime, inode and ctime: editing a file, or
 * replacing it by a copy that keeps size and mtime (`cp -p`, `rsync -t`), invalidates it.
 */
export interface CacheConfig {
  dir: string;
  /** shorter side of cached images (default 256); smaller images are kept as they are */
  size?: number;
  filter?: Filter;
  /**
   * PIL's reducing_gap for the shrink into the cache (see `resample`): 2 box-averages a 1024 px
   * image by 2 before the bicubic pass, ~3x cheaper, close to but not bit-equal with the exact
   * resize. Training loaders use it (random crops and rotations dwarf the difference); leave it
   * undefined where the cached image must follow PIL's plain resize. Part of the cache key.
   */
  reducingGap?: number;
  /**
   * Bytes the whole cache folder may hold (e.g. --cache-max-gb). Writers stop caching, and say so
   * once, rather than grow it past this; undefined = no cap beyond the per-image bound.
   */
  maxBytes?: number;
}

/** 'CXR2': 16-bit samples possible (byte 13 = bytes per sample); 'CXR1' entries were all 8-bit. */
const MAGIC = 0x32525843;
const HEADER = 16;

export async function cacheKey(file: string, cfg: CacheConfig): Promise<string> {
  const st = await stat(file);
  return createHash('sha1')
    .update(
      `v2\0${path.resolve(file)}\0${st.size}\0${st.mtimeMs}\0${st.ino}\0${st.ctimeMs}\0${cfg.size ?? 256}\0${cfg.filter ?? 'bicubic'}${cfg.reducingGap === undefined ? '' : `\0gap${cfg.reducingGap}`}`,
    )
    .digest('hex');
}

function entryPath(cfg: CacheConfig, key: string): string {
  return path.join(cfg.dir, key.slice(0, 2), `${key}.u8`);
}

export async function readCached(cfg: CacheConfig, key: string): Promise<Image | undefined> {
  let b: Buffer;
  try {
    b = await readFile(entryPath(cfg, key));
  } catch {
    return undefined;
  }
  if (b.length < HEADER || b.readUInt32LE(0) !== MAGIC) return undefined;
  const width = b.readUInt32LE(4);
  const height = b.readUInt32LE(8);
  const channels = b.readUInt8(12) as 1 | 3;
  const bytesPerSample = b.readUInt8(13);
  const n = width * height * channels;
  if ((bytesPerSample !== 1 && bytesPerSample !== 2) || b.length !== HEADER + n * bytesPerSample) return undefined; // torn write from a crashed run: recompute
  const data = new Float32Array(n);
  if (bytesPerSample === 1) {
    const inv = 1 / 255;
    for (let i = 0; i < n; i++) data[i] = b[HEADER + i] * inv;
  } else {
    const inv = 1 / 65535;
    for (let i = 0; i < n; i++) data[i] = b.readUInt16LE(HEADER + 2 * i) * inv;
  }
  return { width, height, channels, data };
}

/** Whether every sample is some k/255: the source had 8 bits (or 16-bit values that are multiples of 257). */
function fitsEightBits(data: Float32Array): boolean {
  for (let i = 0; i < data.length; i++) {
    const v = data[i] * 255;
    if (Math.abs(v - Math.round(v)) > 1e-3) return false;
  }
  return true;
}

/**
 * Shrinks and quantises to the source's depth (8 or 16 bits); the quantised image is what both
 * cold and warm epochs use.
 */
export function toCacheImage(img: Image, cfg: CacheConfig): { image: Image; bytes: Uint8Array } {
  const size = cfg.size ?? 256;
  // decided before the resize, whose interpolated samples are no longer k/255 even for 8-bit sources
  const eightBit = fitsEightBits(img.data);
  let small = Math.min(img.width, img.height) > size ? resize(img, size, cfg.filter ?? 'bicubic', cfg.reducingGap) : img;
  // grey after rounding: one channel in the cache, a third of the size
  small = greyIfNeutral(small, eightBit);
  const n = small.data.length;
  const bytesPerSample = eightBit ? 1 : 2;
  const levels = eightBit ? 255 : 65535;
  const bytes = new Uint8Array(HEADER + n * bytesPerSample);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, small.width, true);
  dv.setUint32(8, small.height, true);
  dv.setUint8(12, small.channels);
  dv.setUint8(13, bytesPerSample);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const q = Math.round(Math.min(1, Math.max(0, small.data[i])) * levels);
    if (eightBit) bytes[HEADER + i] = q;
    else dv.setUint16(HEADER + 2 * i, q, true);
    data[i] = q / levels;
  }
  return { image: { width: small.width, height: small.height, channels: small.channels, data }, bytes };
}

export async function writeCached(cfg: CacheConfig, key: string, bytes: Uint8Array): Promise<void> {
  const p = entryPath(cfg, key);
  await mkdir(path.dirname(p), { recursive: true });
  // write-then-rename: concurrent workers or an interrupted run never leave a half file in place
  const tmp = `${p}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, p);
  } catch (e) {
    // a half-written file on a full disk would hold space the cap no longer counts
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}

/**
 * Writes `file`'s entry from an image decoded elsewhere (the data audit decodes every file anyway),
 * unless the entry is there already: the first epoch then reads it instead of decoding the file a
 * second time. `decoded` is the file as the loader decodes it (`decodeImage` with `greyIfNeutral`),
 * so the entry has the bytes the loader itself would write.
 *
 * `key` must be `cacheKey(file, cfg)` taken BEFORE the bytes behind `decoded` were read. Taking it
 * here, after the decode, filed a file replaced in between (a sync, a re-export) under its new key
 * with the old pixels, and every later epoch read those stale pixels as the new file. Keyed from
 * before the read, such an entry sits under the old key, which nothing looks up any more.
 * `ledger`: the run's shared byte counter (`cacheLedger`), so that threads filling the cache at
 * once draw on one cap.
 */
export async function fillCache(file: string, decoded: Image, cfg: CacheConfig, key: string, ledger?: SharedArrayBuffer): Promise<CacheNotice | undefined> {
  try {
    await access(entryPath(cfg, key));
    return undefined;
  } catch {
    // not cached yet
  }
  return storeEntry(cfg, key, toCacheImage(decoded, cfg), file, ledger);
}
