/**
 * What the audit knows about one image file without looking at anatomy: its bytes (content hash,
 * size), its header (format, dimensions, bit depth, colour type), and from the decoded pixels a
 * perceptual hash (near duplicates) and the mean and spread of the outer border (burnt-in frames,
 * collimation and scanner padding differ by source).
 */
import { createHash } from 'node:crypto';
import { decodeImage } from '../decode/index.ts';
import { readImageHeader } from '../decode/header.ts';
import { readBytes } from '../fsutil.ts';
import type { Image } from '../image.ts';
import { cacheKey, fillCache, type CacheConfig } from '../loader/cache.ts';
import { mulberry32 } from '../rng.ts';
import { greyIfNeutral } from '../transforms/grey.ts';
import { applyTransforms, type TransformSpec } from '../transforms/pipeline.ts';
import { perceptualHash } from './perceptualHash.ts';

export interface FileFacts {
  file: string;
  bytes: number;
  sha256: string;
  format: string;
  width: number;
  height: number;
  /** Colour components as stored: 1 grey, 3 colour. */
  channels: number;
  bitDepth: number;
  /** 256-bit DCT perceptual hash of the decoded image, hex. */
  phash: string;
  /** Mean and standard deviation of the grey values (0..1) in the outer 5% frame. */
  borderMean: number;
  borderStd: number;
}

/** Grey value of pixel p (mean of the colour channels). */
function grey(img: Image, p: number): number {
  if (img.channels === 1) return img.data[p];
  return (img.data[3 * p] + img.data[3 * p + 1] + img.data[3 * p + 2]) / 3;
}

export function borderStats(img: Image, fraction = 0.05): { mean: number; std: number } {
  const bw = Math.max(1, Math.round(img.width * fraction));
  const bh = Math.max(1, Math.round(img.height * fraction));
  let n = 0;
  let s = 0;
  let s2 = 0;
  for (let y = 0; y < img.height; y++) {
    const edgeRow = y < bh || y >= img.height - bh;
    for (let x = 0; x < img.width; x++) {
      if (!edgeRow && x >= bw && x < img.width - bw) {
        x = img.width - bw - 1;
        continue;
      }
      const v = grey(img, y * img.width + x);
      n++;
      s += v;
      s2 += v * v;
    }
  }
  const mean = s / n;
  return { mean, std: Math.sqrt(Math.max(0, s2 / n - mean * mean)) };
}

/** What else to make of a file while it is decoded for the audit, instead of decoding it again later. */
export interface AuditExtras {
  /** write the file's entry in the training loader's decoded-image cache */
  imageCache?: CacheConfig;
  /**
   * The run's byte counter of that cache (`cacheLedger`), shared with the worker threads: each
   * thread counting on its own let N threads each fill up to the cap (2 workers: 1.5x the cap).
   */
  cacheLedger?: SharedArrayBuffer;
  /** put the image through these (deterministic) transforms for an evaluation loader */
  prepare?: TransformSpec[];
}

export async function describeFile(file: string): Promise<FileFacts> {
  return (await readForAudit(file)).facts;
}

/**
 * The audit's facts, and what `extras` asks for from the same decode. The prepared image is what
 * a loader with those transforms makes of the file (decoded, grey when its channels are equal).
 */
export async function readForAudit(file: string, extras: AuditExtras = {}): Promise<{ facts: FileFacts; prepared?: Image }> {
  // the entry's key from the file as it is before the read: keyed after it, a file replaced
  // meanwhile would get the old pixels under its new key (see fillCache)
  const key = extras.imageCache ? await cacheKey(file, extras.imageCache) : undefined;
  const bytes = await readBytes(file);
  const header = readImageHeader(bytes, file);
  const img = decodeImage(bytes, file);
  // As the loaders decode it: one channel when the three are equal.
  const asLoaded = extras.imageCache || extras.prepare ? greyIfNeutral(img) : img;
  if (extras.imageCache && key) await fillCache(file, asLoaded, extras.imageCache, key, extras.cacheLedger);
  const prepared = extras.prepare ? applyTransforms(asLoaded, extras.prepare, mulberry32(0)) : undefined;
  return { facts: factsOf(file, bytes, header, img), prepared };
}

function factsOf(file: string, bytes: Uint8Array, header: ReturnType<typeof readImageHeader>, img: Image): FileFacts {
  const border = borderStats(img);
  return {
    file,
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    format: header.format,
    width: header.width,
    height: header.height,
    channels: header.channels,
    bitDepth: header.bitDepth,
    phash: perceptualHash(img),
    borderMean: border.mean,
    borderStd: border.std,
  };
}
