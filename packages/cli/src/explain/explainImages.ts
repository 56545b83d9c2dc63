/**
 * Grad-CAM for a list of image files: evaluation preprocessing (as predict), batches of `batchSize`
 * through `gradCam` on the GPU, maps read back per image. Shared by `cxr explain` and the
 * Grad-CAM overlays of every run's samples.png.
 */
import * as T from '@cxr/tensor';
import { gradCam, type Module } from '@cxr/nn';
import { readFileSync } from 'node:fs';
import { applyTransforms, decodeImage, evalTransforms, type Filter, mulberry32, toCHW } from '@cxr/data';
import { evalImage } from '../train/data.ts';
import type { SampleImage } from '../report/imagePixels.ts';

/**
 * A model file's own evaluation preprocessing (resize, filter, normalisation), as `predict` applies
 * it; without it, CXR's training defaults (`evalImage`).
 */
export interface Preprocess {
  resizeSize: number;
  filter: Filter;
  mean: readonly number[];
  std: readonly number[];
}

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
  options: {
    layer: string;
    imageSize: number;
    /** The class to explain: one for every file, or one per file; default the decision (`decide`) or the most probable. */
    classIndex?: number | readonly number[];
    batchSize?: number;
    preprocess?: Preprocess;
    /**
     * Without classIndex: the class to explain given an image's probabilities (the model's decision
     * rule). Where it is not the most probable class the batch runs a second pass for those images.
     */
    decide?: (probs: Float32Array) => number;
  },
): Promise<Explained[]> {
  const out: Explained[] = [];
  const bs = options.batchSize ?? 8;
  const size = options.imageSize;
  const pre = options.preprocess;
  const transforms = pre && evalTransforms({ size, resize: pre.resizeSize, filter: pre.filter });
  const load = (f: string): SampleImage => {
    if (!transforms) return evalImage(f, size);
    const img = applyTransforms(decodeImage(new Uint8Array(readFileSync(f)), f), transforms, mulberry32(0));
    return { pixels: img.data, width: img.width, height: img.height, channels: img.channels, layout: 'hwc' };
  };
  for (let start = 0; start < files.length; start += bs) {
    const chunk = files.slice(start, start + bs);
    const images = chunk.map(load);
    const batch = new Float32Array(chunk.length * 3 * size * size);
    images.forEach((im, k) =>
      toCHW({ width: im.width, height: im.height, channels: im.channels, data: im.pixels as Float32Array }, batch, k * 3 * size * size, pre?.mean, pre?.std),
    );
    const x = T.tensor(batch, [chunk.length, 3, size, size]);
    try {
      const given = options.classIndex;
      const classIndex = typeof given === 'object' ? given.slice(start, start + chunk.length) : given;
      const r = gradCam(model, x, { layer: options.layer, classIndex });
      const probs = T.softmax(r.logits, 1);
      let [maps, cls, p] = await Promise.all([r.maps.toArray(), r.classIndex.toInt32Array(), probs.toArray()]);
      for (const t of [r.maps, r.logits, r.classIndex, probs]) t.dispose();
      const K = p.length / chunk.length;
      const decided = options.classIndex === undefined && options.decide ? chunk.map((_, k) => options.decide!(p.slice(k * K, (k + 1) * K))) : null;
      if (decided?.some((c, k) => c !== cls[k])) {
        const again = gradCam(model, x, { layer: options.layer, classIndex: decided });
        [maps, cls] = await Promise.all([again.maps.toArray(), again.classIndex.toInt32Array()]);
        for (const t of [again.maps, again.logits, again.classIndex]) t.dispose();
      }
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
