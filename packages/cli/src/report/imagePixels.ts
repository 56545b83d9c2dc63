/**
 * Converts model-side image buffers (float or byte, grayscale or RGB, HWC or CHW, possibly still
 * ImageNet-normalised) into 8-bit RGBA for drawing, and encodes them as PNG with pngjs.
 */
import { PNG } from 'pngjs';

export interface SampleImage {
  pixels: Float32Array | Uint8Array;
  width: number;
  height: number;
  /** 1 (grayscale) or 3 (RGB). */
  channels: 1 | 3;
  /** Memory layout; tensors from the model side are usually 'chw'. Default 'hwc'. */
  layout?: 'hwc' | 'chw';
  /**
   * For float pixels that were normalised ((x - mean) / std), the mean and std to undo it.
   * Without it, float pixels are taken to lie in [0, 1]; byte pixels always in [0, 255].
   */
  normalization?: { mean: readonly number[]; std: readonly number[] };
}

/** 8-bit RGBA, row-major, as PNG and canvases expect. */
export function toRgba(image: SampleImage): Uint8Array {
  const { pixels, width, height, channels } = image;
  const plane = width * height;
  if (pixels.length !== plane * channels) {
    throw new Error(`image: ${pixels.length} values do not fit ${width}x${height}x${channels}`);
  }
  const chw = image.layout === 'chw';
  const isFloat = pixels instanceof Float32Array;
  const out = new Uint8Array(plane * 4);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const ch = channels === 1 ? 0 : c;
      let v = pixels[chw ? ch * plane + p : p * channels + ch];
      if (isFloat) {
        if (image.normalization) v = v * image.normalization.std[ch] + image.normalization.mean[ch];
        v *= 255;
      }
      out[p * 4 + c] = Math.max(0, Math.min(255, Math.round(v)));
    }
    out[p * 4 + 3] = 255;
  }
  return out;
}

export function encodePng(rgba: Uint8Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return PNG.sync.write(png);
}

export function imageToPng(image: SampleImage): Buffer {
  return encodePng(toRgba(image), image.width, image.height);
}
