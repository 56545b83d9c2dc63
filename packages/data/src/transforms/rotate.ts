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
    for (let x = 0; x < W; x++) {
      const dx = x + 0.5 - cx;
      // inverse map: output pixel -> source position (pixel-centre convention)
      const sx = cos * dx - sin * dy + cx - 0.5;
      const sy = sin * dx + cos * dy + cy - 0.5;
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
      const fx = sx - x0;
      const fy = sy - y0;
      for (let c = 0; c < C; c++) {
        const px = (xx: number, yy: number): number => (xx < 0 || yy < 0 || xx >= W || yy >= H ? fill : s[(yy * W + xx) * C + c]);
        const top = px(x0, y0) * (1 - fx) + px(x0 + 1, y0) * fx;
        const bot = px(x0, y0 + 1) * (1 - fx) + px(x0 + 1, y0 + 1) * fx;
        out[o + c] = top * (1 - fy) + bot * fy;
      }
    }
  }
  return { ...img, data: out };
}
