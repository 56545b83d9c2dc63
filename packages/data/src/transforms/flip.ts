import type { Image } from '../image.ts';

export function hflip(img: Image): Image {
  const { width: W, height: H, channels: C } = img;
  const out = new Float32Array(img.data.length);
  const s = img.data;
  for (let y = 0; y < H; y++) {
    const row = y * W * C;
    for (let x = 0; x < W; x++) {
      const a = row + x * C;
      const b = row + (W - 1 - x) * C;
      for (let c = 0; c < C; c++) out[b + c] = s[a + c];
    }
  }
  return { ...img, data: out };
}
