import type { Image } from '../image.ts';
import type { Rng } from '../rng.ts';
import { centerCrop, randomResizedCrop } from './crop.ts';
import { equalize } from './equalize.ts';
import { hflip } from './flip.ts';
import { resize, type Filter } from './resize.ts';
import { rotate } from './rotate.ts';

/**
 * Transforms are plain data, not closures, so the same pipeline can be posted to worker threads
 * and hashed; `applyTransforms` interprets them. Normalisation and CHW layout are not steps
 * here: they happen when the batch is written (see `toCHW`).
 */
export type TransformSpec =
  | { kind: 'resize'; size: number | [number, number]; filter?: Filter; reducingGap?: number }
  | { kind: 'centerCrop'; size: number | [number, number] }
  | { kind: 'randomResizedCrop'; size: number | [number, number]; scale?: [number, number]; ratio?: [number, number]; filter?: Filter; reducingGap?: number }
  | { kind: 'randomRotation'; degrees: number; interpolation?: 'bilinear' | 'nearest'; fill?: number }
  | { kind: 'horizontalFlip'; p?: number }
  | { kind: 'equalize' };

export function applyTransforms(img: Image, specs: readonly TransformSpec[], rng: Rng): Image {
  for (const t of specs) img = applyOne(img, t, rng);
  return img;
}

function applyOne(img: Image, t: TransformSpec, rng: Rng): Image {
  switch (t.kind) {
    case 'resize':
      return resize(img, t.size, t.filter ?? 'bicubic', t.reducingGap);
    case 'centerCrop':
      return centerCrop(img, t.size);
    case 'randomResizedCrop':
      return randomResizedCrop(img, t.size, rng, { scale: t.scale, ratio: t.ratio, filter: t.filter, reducingGap: t.reducingGap });
    case 'randomRotation': {
      const angle = rng.uniform(-t.degrees, t.degrees);
      return rotate(img, angle, t.interpolation ?? 'bilinear', t.fill ?? 0);
    }
    case 'horizontalFlip':
      return rng.next() < (t.p ?? 0.5) ? hflip(img) : img;
    case 'equalize':
      return equalize(img);
    default:
      throw new Error(`unknown transform ${JSON.stringify(t)}`);
  }
}

/**
 * The study's training augmentation: random resized crop, ±30° rotation, flip. The crop's
 * resize uses PIL's reducing_gap (default 2: crops over 4x the output are box-averaged by an
 * integer factor first), which only matters for large uncached sources and is much cheaper
 * there; pass `reducingGap: null` for the plain PIL resize.
 */
export function trainTransforms(
  opts: { size?: number; rotation?: number; equalize?: boolean; filter?: Filter; reducingGap?: number | null } = {},
): TransformSpec[] {
  const size = opts.size ?? 224;
  const gap = opts.reducingGap === undefined ? 2 : (opts.reducingGap ?? undefined);
  return [
    ...(opts.equalize ? [{ kind: 'equalize' } as const] : []),
    { kind: 'randomResizedCrop', size, filter: opts.filter ?? 'bicubic', ...(gap === undefined ? {} : { reducingGap: gap }) },
    { kind: 'randomRotation', degrees: opts.rotation ?? 30 },
    { kind: 'horizontalFlip', p: 0.5 },
  ];
}

/** Deterministic evaluation: resize the shorter side to 256/224 of the crop, centre crop. */
export function evalTransforms(opts: { size?: number; resize?: number; equalize?: boolean; filter?: Filter } = {}): TransformSpec[] {
  const size = opts.size ?? 224;
  return [
    ...(opts.equalize ? [{ kind: 'equalize' } as const] : []),
    { kind: 'resize', size: opts.resize ?? Math.round((size * 256) / 224), filter: opts.filter ?? 'bicubic' },
    { kind: 'centerCrop', size },
  ];
}
