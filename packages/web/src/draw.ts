import type { Image } from '@cxr/data';

/** An Image (HWC floats in [0, 1], grey or RGB) as a canvas at its own resolution. */
export function drawImage(img: Image): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = img.width;
  canvas.height = img.height;
  const out = new ImageData(img.width, img.height);
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const [r, g, b] = img.channels === 1 ? [img.data[i], img.data[i], img.data[i]] : [img.data[3 * i], img.data[3 * i + 1], img.data[3 * i + 2]];
    out.data[4 * i] = Math.round(255 * r);
    out.data[4 * i + 1] = Math.round(255 * g);
    out.data[4 * i + 2] = Math.round(255 * b);
    out.data[4 * i + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(out, 0, 0);
  return canvas;
}
