import type { Image } from '../image.ts';
import type { Rng } from '../rng.ts';
import { resample, type Filter } from './resize.ts';

/** Python's round(): half to even, which torchvision's crop arithmetic inherits. */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Copies a rectangle; parts outside the image are filled with 0 (torchvision pads likewise). */
export function crop(img: Image, top: number, left: number, height: number, width: number): Image {
  const C = img.channels;
  const out = new Float32Array(width * height * C);
  for (let y = 0; y < height; y++) {
    const sy = top + y;
    if (sy < 0 || sy >= img.height) continue;
    const x0 = Math.max(0, -left);
    const x1 = Math.min(width, img.width - left);
    if (x1 <= x0) continue;
    out.set(img.data.subarray((sy * img.width + left + x0) * C, (sy * img.width + left + x1) * C), (y * width + x0) * C);
  }
  return { width, height, channels: C, data: out };
}

/**
 * torchvision's center_crop: a side longer than the image is padded with (crop - side) // 2 before
 * it (floor, so odd padding puts the extra pixel after); a shorter one is cropped at round-half-even.
 */
function centerOffset(side: number, crop: number): number {
  return crop > side ? -Math.floor((crop - side) / 2) : pyRound((side - crop) / 2);
}

export function centerCrop(img: Image, size: number | [number, number]): Image {
  const [h, w] = Array.isArray(size) ? size : [size, size];
  return crop(img, centerOffset(img.height, h), centerOffset(img.width, w), h, w);
}

export interface RandomResizedCropOptions {
  scale?: [number, number];
  ratio?: [number, number];
  filter?: Filter;
  /** PIL's reducing_gap for the resize (see `resample`); undefined = plain PIL resize */
  reducingGap?: number;
}

/** torchvision RandomResizedCrop.get_params: 10 tries of area/log-ratio sampling, then a central fallback. */
export function randomResizedCropParams(
  width: number,
  height: number,
  rng: Rng,
  scale: [number, number] = [0.08, 1],
  ratio: [number, number] = [3 / 4, 4 / 3],
): { top: number; left: number; height: number; width: number } {
  const area = width * height;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let i = 0; i < 10; i++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = pyRound(Math.sqrt(target * aspect));
    const h = pyRound(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return { top: rng.int(0, height - h + 1), left: rng.int(0, width - w + 1), height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w: number;
  let h: number;
  if (inRatio < Math.min(...ratio)) {
    w = width;
    h = pyRound(w / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    h = height;
    w = pyRound(h * Math.max(...ratio));
  } else {
    w = width;
    h = height;
  }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/** Crop and resize in one resampling pass (PIL's resize with a box), avoiding a copy of the crop. */
export function randomResizedCrop(img: Image, size: number | [number, number], rng: Rng, opts: RandomResizedCropOptions = {}): Image {
  const [oh, ow] = Array.isArray(size) ? size : [size, size];
  const p = randomResizedCropParams(img.width, img.height, rng, opts.scale, opts.ratio);
  return resample(img, ow, oh, opts.filter ?? 'bicubic', [p.left, p.top, p.left + p.width, p.top + p.height], opts.reducingGap);
}
