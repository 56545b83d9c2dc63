import { ImageDecodeError } from './errors.ts';

/** Default cap on width × height: a 30000² PNG is under 1 MB on disk and 3.6 GB as float32 RGB. */
export const defaultMaxMegapixels = 100;

/** The pixel cap in megapixels: CXR_MAX_MEGAPIXELS (read each time, so workers see it too) or 100. */
export function maxMegapixels(): number {
  // Browsers have no process.env: the default applies there.
  const raw = typeof process === 'undefined' ? undefined : process.env?.CXR_MAX_MEGAPIXELS;
  if (raw === undefined || raw === '') return defaultMaxMegapixels;
  const v = Number(raw);
  if (!(v > 0) || !Number.isFinite(v)) throw new Error(`CXR_MAX_MEGAPIXELS must be a positive number of megapixels (e.g. 100), got '${raw}'`);
  return v;
}

/** Throws before any pixel is decoded when the declared size is over the cap. */
export function checkPixelCount(name: string, width: number, height: number, limitMegapixels = maxMegapixels()): void {
  const mp = (width * height) / 1e6;
  if (mp > limitMegapixels) {
    throw new ImageDecodeError(
      name,
      `image is ${width}x${height} (${mp.toFixed(1)} MP), over the ${limitMegapixels} MP limit (set CXR_MAX_MEGAPIXELS to raise it)`,
    );
  }
}
