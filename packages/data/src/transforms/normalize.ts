import type { Image } from '../image.ts';

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/**
 * Writes `img` as CHW with 3 channels (grey is replicated, as PIL's convert('RGB') would) and
 * normalised, straight into `out` at `offset`: the batch buffer, to avoid one copy per image.
 */
export function toCHW(
  img: Image,
  out?: Float32Array,
  offset = 0,
  mean: readonly number[] = IMAGENET_MEAN,
  std: readonly number[] = IMAGENET_STD,
): Float32Array {
  const n = img.width * img.height;
  const dst = out ?? new Float32Array(3 * n);
  const s = img.data;
  if (img.channels === 1) {
    // one pass over the grey samples, three planes written (the same arithmetic per plane)
    const [m0, m1, m2] = mean;
    const k0 = 1 / std[0];
    const k1 = 1 / std[1];
    const k2 = 1 / std[2];
    for (let i = 0, a = offset, b = offset + n, c = offset + 2 * n; i < n; i++) {
      const v = s[i];
      dst[a + i] = (v - m0) * k0;
      dst[b + i] = (v - m1) * k1;
      dst[c + i] = (v - m2) * k2;
    }
    return dst;
  }
  for (let c = 0; c < 3; c++) {
    const m = mean[c];
    const k = 1 / std[c];
    const base = offset + c * n;
    for (let i = 0, j = c; i < n; i++, j += 3) dst[base + i] = (s[j] - m) * k;
  }
  return dst;
}

const NO_SHIFT = [0, 0, 0];
const NO_SCALE = [1, 1, 1];

/**
 * `img` as CHW planes of its own samples, not normalised and not expanded: one plane for grey,
 * three for RGB (or three for grey too with `channels` 3, as a batch that mixes both needs).
 * For consumers that normalise on the device (`normalizeChannels` in @cxr/tensor): (v - 0) * 1
 * keeps every sample's bits, so the device sees the values `toCHW` would have normalised.
 */
export function toPlanes(img: Image, out?: Float32Array, offset = 0, channels: 1 | 3 = img.channels): Float32Array {
  if (channels === 1 && img.channels !== 1) throw new Error(`toPlanes: a ${img.channels}-channel image cannot be written as one plane`);
  if (channels === 3) return toCHW(img, out, offset, NO_SHIFT, NO_SCALE);
  const dst = out ?? new Float32Array(img.width * img.height);
  dst.set(img.data, offset);
  return dst;
}

/** Replicates a grey image to 3 HWC channels (for callers that want RGB images, not batches). */
export function toRgb(img: Image): Image {
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const data = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = img.data[i];
  return { width: img.width, height: img.height, channels: 3, data };
}
