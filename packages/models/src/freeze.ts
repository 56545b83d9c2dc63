import { BatchNorm2d, type Module } from '@cxr/nn';
import { ResNet } from './arch/resnet.js';
import { VGG } from './arch/vgg.js';
import { headName, type Classifier } from './heads.js';

/**
 * The study's freezing presets, resolved to name patterns for `Module.freeze`:
 * - `none`; `features` (every VGG conv); `vgg-convs:0,2,5,10,24,28` (indices into `features`);
 * - `head` (freeze the classifier, train the body); `body` (everything but the classifier);
 * - any comma-separated list of names or globs (`conv1,bn1,layer1,layer2`, `features.*`).
 */
export function freezePatterns(model: Classifier, spec: string): string[] {
  const s = spec.trim();
  if (s === '' || s === 'none') return [];
  if (s === 'features') {
    if (!(model instanceof VGG)) throw new Error("freeze 'features' is a VGG preset; for ResNet name the blocks, e.g. conv1,bn1,layer1,layer2");
    return ['features'];
  }
  const vggConvs = /^vgg-convs:([\d,\s]+)$/.exec(s);
  if (vggConvs) {
    if (!(model instanceof VGG)) throw new Error(`freeze '${s}' is a VGG preset`);
    const idx = vggConvs[1].split(',').map((v) => Number(v.trim()));
    for (const i of idx) {
      if (!model.namedParameters().some(([n]) => n === `features.${i}.weight`)) throw new Error(`freeze '${s}': features.${i} is not a convolution`);
    }
    return idx.map((i) => `features.${i}`);
  }
  if (s === 'head') return [headName(model)];
  if (s === 'body') {
    const head = headName(model);
    return model.namedChildren().map(([n]) => n).filter((n) => n !== head);
  }
  return s.split(',').map((p) => p.trim()).filter(Boolean);
}

/** Applies a preset or glob list; returns the names of the parameters now frozen. */
export function applyFreeze(model: Classifier, spec: string): string[] {
  const patterns = freezePatterns(model, spec);
  return patterns.length ? model.freeze(patterns) : [];
}

/**
 * Puts batch-norm layers whose parameters are all frozen into eval mode, so their running
 * statistics stay the pretrained ones (call after every `model.train()`).
 */
export function freezeBatchNormStats(model: Module): number {
  let n = 0;
  for (const [, m] of model.namedModules()) {
    if (m instanceof BatchNorm2d && m.parameters().length > 0 && m.parameters().every((p) => !p.requiresGrad)) {
      m.training = false;
      n++;
    }
  }
  return n;
}

export { ResNet, VGG };
