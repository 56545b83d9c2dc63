import type { Image } from '../image.ts';

/**
 * Many RGB files hold grey content (R = G = B: most colour-saved X-rays). Returned as one channel
 * they cost a third in every later transform, and no output value changes: every transform works
 * on each channel alike and the batch writer replicates grey to 3 channels. `eightBit` compares
 * the samples after rounding to 8 bits (for the 8-bit disk cache); otherwise they must be equal.
 */
export function greyIfNeutral(img: Image, eightBit = false): Image {
  if (img.channels !== 3) return img;
  const d = img.data;
  const n = img.width * img.height;
  if (eightBit) {
    for (let i = 0; i < n; i++) {
      const r = Math.round(d[3 * i] * 255);
      if (r !== Math.round(d[3 * i + 1] * 255) || r !== Math.round(d[3 * i + 2] * 255)) return img;
    }
  } else {
    for (let i = 0, j = 0; i < n; i++, j += 3) if (d[j] !== d[j + 1] || d[j] !== d[j + 2]) return img;
  }
  const g = new Float32Array(n);
  for (let i = 0; i < n; i++) g[i] = d[3 * i];
  return { width: img.width, height: img.height, channels: 1, data: g };
}
