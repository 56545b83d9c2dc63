import * as T from '@cxr/tensor';
import { gradCam } from '@cxr/nn';
import {
  applyDecisionRule,
  applyHead,
  createModel,
  defaultCamLayer,
  loadWeights,
  openSafetensors,
  type DecisionRule,
  type ResNet,
  type VGG,
} from '@cxr/models';
import { applyTransforms, decodeImageAsync, evalTransforms, mulberry32, toCHW, type Image } from '@cxr/data';
import type { ModelSettings } from './modelSettings.ts';

export interface Classification {
  logits: number[];
  /** Probabilities after the model's stored temperature (if any), as `cxr predict` gives them. */
  probs: number[];
  /** The decision: p(positive) >= the stored threshold, else the most probable class. */
  label: string;
  /** The network's input before normalisation (resized and centre-cropped), for display. */
  input: Image;
  /** Grad-CAM of the decided class (camClass = label) at the input's size, [0, 1], row-major; and the layer it explains. */
  cam: Float32Array;
  camClass: string;
  camLayer: string;
  ms: number;
}

/**
 * A model rebuilt from a model.safetensors held in memory, and the same preprocessing `cxr predict`
 * applies in Node (decode, resize, centre crop, normalise), so one file gives the same logits;
 * and the same decision rule (temperature, threshold chosen on validation) stored in the file.
 */
export class Classifier {
  private constructor(
    readonly settings: ModelSettings,
    /** The file's decision rule; null: argmax of the plain softmax. */
    readonly rule: DecisionRule | null,
    private readonly model: VGG | ResNet,
  ) {}

  /** The file's safetensors metadata (string map), read from the header only. */
  static metadata(bytes: Uint8Array, name: string): Record<string, string> {
    const file = openSafetensors(bytes, { name });
    try {
      return file.metadata;
    } finally {
      file.close();
    }
  }

  static async load(bytes: Uint8Array, name: string, settings: ModelSettings, rule: DecisionRule | null): Promise<Classifier> {
    await T.getDevice();
    const model = createModel(settings.arch, { initialize: false }); // every tensor is loaded below
    try {
      applyHead(model, settings.head, settings.classes.length);
      const file = openSafetensors(bytes, { name });
      try {
        await loadWeights(model, file.tensors);
      } finally {
        file.close();
      }
      model.eval();
      await T.sync();
    } catch (e) {
      model.dispose();
      throw e;
    }
    return new Classifier(settings, rule, model);
  }

  async classify(bytes: Uint8Array, name: string): Promise<Classification> {
    const t0 = performance.now();
    const s = this.settings;
    const decoded = await decodeImageAsync(bytes, name);
    const input = applyTransforms(decoded, evalTransforms({ size: s.inputSize, resize: s.resizeSize, filter: s.filter }), mulberry32(0));
    const n = s.inputSize;
    const x = T.tensor(toCHW(input, undefined, 0, s.mean, s.std), [1, 3, n, n]);
    const camLayer = defaultCamLayer(this.model);
    try {
      // One forward pass gives the logits and, with one backward pass to camLayer, the heat map.
      const cam = gradCam(this.model, x, { layer: camLayer });
      const probs = T.softmax(cam.logits, 1);
      const [hl, hp, firstMap, firstExplained] = await Promise.all([cam.logits.toArray(), probs.toArray(), cam.maps.toArray(), cam.classIndex.toInt32Array()]);
      for (const t of [cam.logits, cam.maps, cam.classIndex, probs]) t.dispose();
      // Temperature and threshold in float64 on the host, by the code `cxr predict` runs.
      const decided = applyDecisionRule([hp], s.classes, this.rule);
      const best = decided.predicted[0];
      // The map explains the class shown as the prediction: where a threshold chosen on validation
      // decides otherwise than the most probable class, a second pass explains the decided one
      // (a map of evidence for 'normal' under the verdict 'infected' would mislead the reader).
      let map = firstMap;
      let explained = firstExplained;
      if (explained[0] !== best) {
        const again = gradCam(this.model, x, { layer: camLayer, classIndex: best });
        [map, explained] = await Promise.all([again.maps.toArray(), again.classIndex.toInt32Array()]);
        for (const t of [again.logits, again.maps, again.classIndex]) t.dispose();
      }
      return {
        logits: Array.from(hl),
        probs: Array.from(decided.probs[0]),
        label: s.classes[best] ?? String(best),
        input,
        cam: map,
        camClass: s.classes[explained[0]] ?? String(explained[0]),
        camLayer,
        ms: performance.now() - t0,
      };
    } finally {
      x.dispose();
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}
