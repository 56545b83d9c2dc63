import type { Image } from '../image.ts';

/**
 * Global histogram equalisation per channel on 256 bins (PIL's ImageOps.equalize). Offered
 * because exposure and contrast vary wildly between hospitals and the study traced errors to it.
 */
export function equalize(img: Image): Image {
  const { channels: C } = img;
  const n = img.width * img.height;
  const out = new Float32Array(img.data.length);
  for (let c = 0; c < C; c++) {
    const hist = new Uint32Array(256);
    for (let i = c; i < img.data.length; i += C) hist[binOf(img.data[i])]++;
    // PIL: step from the histogram without its last non-empty bin; identity when flat
    let last = 255;
    while (last > 0 && hist[last] === 0) last--;
    const step = Math.floor((n - hist[last]) / 256);
    const lut = new Float32Array(256);
    if (step === 0) {
      for (let i = 0; i < 256; i++) lut[i] = i / 255;
    } else {
      let acc = Math.floor(step / 2);
      for (let i = 0; i < 256; i++) {
        lut[i] = Math.min(255, Math.floor(acc / step)) / 255;
        acc += hist[i];
      }
    }
    for (let i = c; i < img.data.length; i += C) out[i] = lut[binOf(img.data[i])];
  }
  return { ...img, data: out };
}

function binOf(v: number): number {
  const b = Math.round(v * 255);
  return Math.min(255, Math.max(0, b));
}
