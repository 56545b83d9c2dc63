import type { Image } from '../image.ts';

/**
 * Rotates about the image centre by `degrees` (counter-clockwise, as torchvision), same output
 * size, uncovered corners set to `fill`. Bilinear by default: torchvision's nearest default
 * leaves jagged rib edges, which a model can latch onto.
 */
export function rotate(img: Image, degrees: number, interpolation: 'bilinear' | 'nearest' = 'bilinear', fill = 0): Image {
  const { width: W, height: H, channels: C } = img;
  const out = new Float32Array(img.data.length);
  const s = img.data;
  const t = (degrees * Math.PI) / 180; // y points down, so +t in this inverse map is CCW on screen
  const cos = Math.cos(t);
  const sin = Math.sin(t);
  const cx = W * 0.5;
  const cy = H * 0.5;
  for (let y = 0; y < H; y++) {
    const dy = y + 0.5 - cy;
    // inverse map: output pixel -> source position (pixel-centre convention), linear along the row
    let sx = cos * (0.5 - cx) - sin * dy + cx - 0.5;
    let sy = sin * (0.5 - cx) + cos * dy + cy - 0.5;
    for (let x = 0; x < W; x++, sx += cos, sy += sin) {
      const o = (y * W + x) * C;
      if (interpolation === 'nearest') {
        const ix = Math.round(sx);
        const iy = Math.round(sy);
        if (ix < 0 || iy < 0 || ix >= W || iy >= H) {
          for (let c = 0; c < C; c++) out[o + c] = fill;
        } else {
          const p = (iy * W + ix) * C;
          for (let c = 0; c < C; c++) out[o + c] = s[p + c];
        }
        continue;
      }
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      if (x0 < -1 || y0 < -1 || x0 >= W || y0 >= H) {
        for (let c = 0; c < C; c++) out[o + c] = fill;
        continue;
      }
      const fx = sx - x0;
      const fy = sy - y0;
      const w00 = (1 - fx) * (1 - fy);
      const w10 = fx * (1 - fy);
      const w01 = (1 - fx) * fy;
      const w11 = fx * fy;
      const p = (y0 * W + x0) * C;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H) {
        const r = W * C;
        for (let c = 0; c < C; c++) out[o + c] = s[p + c] * w00 + s[p + C + c] * w10 + s[p + r + c] * w01 + s[p + r + C + c] * w11;
        continue;
      }
      // border: neighbours outside the image read as `fill`
      const in00 = x0 >= 0 && y0 >= 0;
      const in10 = x0 + 1 < W && y0 >= 0;
      const in01 = x0 >= 0 && y0 + 1 < H;
      const in11 = x0 + 1 < W && y0 + 1 < H;
      for (let c = 0; c < C; c++) {
        out[o + c] =
          (in00 ? s[p + c] : fill) * w00 +
          (in10 ? s[p + C + c] : fill) * w10 +
          (in01 ? s[p + W * C + c] : fill) * w01 +
          (in11 ? s[p + W * C + C + c] : fill) * w11;
      }
    }
  }
  return { ...img, data: out };
}
