/**
 * Grad-CAM for a list of image files: evaluation preprocessing (as predict), batches of `batchSize`
 * through `gradCam` on the GPU, maps read back per image. Shared by `cxr explain` and the
 * Grad-CAM overlays of every run's samples.png.
 */
import * as T from '@cxr/tensor';
import { gradCam, type Module } from '@cxr/nn';
import { toCHW } from '@cxr/data';
import { evalImage } from '../train/data.ts';
import type { SampleImage } from '../report/imagePixels.ts';

export interface Explained {
  file: string;
  image: SampleImage;
  /** [H * W] in [0, 1], row-major at the model's input size. */
  map: Float32Array;
  classIndex: number;
  /** Softmax probabilities of the same forward pass. */
  probs: Float32Array;
  /** [h, w] of the explained layer's feature map. */
  featureShape: [number, number];
}

export async function explainImages(
  model: Module,
  files: readonly string[],
  options: { layer: string; imageSize: number; classIndex?: number; batchSize?: number },
): Promise<Explained[]> {
  const out: Explained[] = [];
  const bs = options.batchSize ?? 8;
  const size = options.imageSize;
  for (let start = 0; start < files.length; start += bs) {
    const chunk = files.slice(start, start + bs);
    const images = chunk.map((f) => evalImage(f, size));
    const batch = new Float32Array(chunk.length * 3 * size * size);
    images.forEach((im, k) =>
      toCHW({ width: im.width, height: im.height, channels: im.channels, data: im.pixels as Float32Array }, batch, k * 3 * size * size),
    );
    const x = T.tensor(batch, [chunk.length, 3, size, size]);
    try {
      const r = gradCam(model, x, { layer: options.layer, classIndex: options.classIndex });
      const probs = T.softmax(r.logits, 1);
      const [maps, cls, p] = await Promise.all([r.maps.toArray(), r.classIndex.toInt32Array(), probs.toArray()]);
      for (const t of [r.maps, r.logits, r.classIndex, probs]) t.dispose();
      const K = p.length / chunk.length;
      chunk.forEach((file, k) =>
        out.push({
          file,
          image: images[k],
          map: maps.slice(k * size * size, (k + 1) * size * size),
          classIndex: cls[k],
          probs: p.slice(k * K, (k + 1) * K),
          featureShape: r.featureShape,
        }),
      );
    } finally {
      x.dispose();
    }
  }
  return out;
}
