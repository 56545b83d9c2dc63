/**
 * A Grad-CAM map drawn on its X-ray: the image in grey, the map in a blue-to-red "jet" ramp blended
 * on top where the map is strong (alpha grows with the value, so cold regions keep the anatomy visible).
 */
import { toRgba, type SampleImage } from './imagePixels.ts';

/** The classic jet colour ramp (MATLAB / OpenCV COLORMAP_JET) for v in [0, 1]. */
export function jet(v: number): [number, number, number] {
  const c = (x: number) => Math.max(0, Math.min(1, x));
  return [c(1.5 - Math.abs(4 * v - 3)), c(1.5 - Math.abs(4 * v - 2)), c(1.5 - Math.abs(4 * v - 1))];
}

/** 8-bit RGB HWC image: grey X-ray with the heat map blended on top (max opacity `alpha`). */
export function overlayHeatmap(image: SampleImage, map: ArrayLike<number>, alpha = 0.55): SampleImage {
  const { width, height } = image;
  if (map.length !== width * height) throw new Error(`overlay: map has ${map.length} values for a ${width}x${height} image`);
  const rgba = toRgba(image);
  const out = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const grey = 0.299 * rgba[4 * p] + 0.587 * rgba[4 * p + 1] + 0.114 * rgba[4 * p + 2];
    const v = Math.max(0, Math.min(1, map[p]));
    const a = alpha * Math.min(1, v * 1.5);
    const [r, g, b] = jet(v);
    out[3 * p] = Math.round((1 - a) * grey + a * 255 * r);
    out[3 * p + 1] = Math.round((1 - a) * grey + a * 255 * g);
    out[3 * p + 2] = Math.round((1 - a) * grey + a * 255 * b);
  }
  return { pixels: out, width, height, channels: 3, layout: 'hwc' };
}
