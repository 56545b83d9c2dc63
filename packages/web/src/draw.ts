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

/** Jet-like colours, with opacity rising with the value so low-attention anatomy stays visible. */
function heat(v: number): [number, number, number, number] {
  const c = (x: number) => Math.round(255 * Math.min(1, Math.max(0, x)));
  return [c(1.5 - Math.abs(4 * v - 3)), c(1.5 - Math.abs(4 * v - 2)), c(1.5 - Math.abs(4 * v - 1)), c(0.65 * v)];
}

/** A [0, 1] heat map (row-major, width × height) as a translucent canvas to lay over the image. */
export function drawHeatMap(map: Float32Array, width: number, height: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.className = 'cam';
  const out = new ImageData(width, height);
  for (let i = 0; i < width * height; i++) out.data.set(heat(map[i]), 4 * i);
  canvas.getContext('2d')!.putImageData(out, 0, 0);
  return canvas;
}
