import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Image } from '../image.ts';
import { greyIfNeutral } from '../transforms/grey.ts';
import { resize, type Filter } from '../transforms/resize.ts';

/**
 * On-disk cache of decoded images, shrunk so the shorter side is `size` and stored as 8-bit.
 * Decoding a 2500 px PNG costs ~100 ms, reading a 256 px raw file well under 1 ms, so every epoch
 * after the first is cheap. Keys include path, file size and mtime: editing a file invalidates it.
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
}

const MAGIC = 0x31525843; // 'CXR1'
const HEADER = 16;

export async function cacheKey(file: string, cfg: CacheConfig): Promise<string> {
  const st = await stat(file);
  return createHash('sha1')
    .update(
      `${path.resolve(file)}\0${st.size}\0${st.mtimeMs}\0${cfg.size ?? 256}\0${cfg.filter ?? 'bicubic'}${cfg.reducingGap === undefined ? '' : `\0gap${cfg.reducingGap}`}`,
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
  const n = width * height * channels;
  if (b.length !== HEADER + n) return undefined; // torn write from a crashed run: recompute
  const data = new Float32Array(n);
  const inv = 1 / 255;
  for (let i = 0; i < n; i++) data[i] = b[HEADER + i] * inv;
  return { width, height, channels, data };
}

/** Shrinks and quantises to 8 bits; the quantised image is what both cold and warm epochs use. */
export function toCacheImage(img: Image, cfg: CacheConfig): { image: Image; bytes: Uint8Array } {
  const size = cfg.size ?? 256;
  let small = Math.min(img.width, img.height) > size ? resize(img, size, cfg.filter ?? 'bicubic', cfg.reducingGap) : img;
  // grey after 8-bit rounding: one channel in the cache, a third of the size
  small = greyIfNeutral(small, true);
  const n = small.data.length;
  const bytes = new Uint8Array(HEADER + n);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, small.width, true);
  dv.setUint32(8, small.height, true);
  dv.setUint8(12, small.channels);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const q = Math.round(small.data[i] * 255);
    bytes[HEADER + i] = q;
    data[i] = q / 255;
  }
  return { image: { width: small.width, height: small.height, channels: small.channels, data }, bytes };
}

export async function writeCached(cfg: CacheConfig, key: string, bytes: Uint8Array): Promise<void> {
  const p = entryPath(cfg, key);
  await mkdir(path.dirname(p), { recursive: true });
  // write-then-rename: concurrent workers or an interrupted run never leave a half file in place
  const tmp = `${p}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, p);
}

/**
 * Writes `file`'s entry from an image decoded elsewhere (the data audit decodes every file anyway),
 * unless the entry is there already: the first epoch then reads it instead of decoding the file a
 * second time. `decoded` is the file as the loader decodes it (`decodeImage` with `greyIfNeutral`),
 * so the entry has the bytes the loader itself would write.
 */
export async function fillCache(file: string, decoded: Image, cfg: CacheConfig): Promise<void> {
  const key = await cacheKey(file, cfg);
  try {
    await access(entryPath(cfg, key));
    return;
  } catch {
    // not cached yet
  }
  await writeCached(cfg, key, toCacheImage(decoded, cfg).bytes);
}
