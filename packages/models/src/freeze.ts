import { BatchNorm2d, type Module } from '@cxr/nn';
import { resolveFreeze } from './freezePresets.ts';

/**
 * Freezes by a preset of the study (`features`, `vgg-convs:0,2,5,10,24,28`, `backbone`, `head`,
 * `resnet-upto:layer2`, …) or parameter globs; returns the names of the parameters now frozen.
 */
export function applyFreeze(model: Module, arch: string, spec: string): string[] {
  const globs = resolveFreeze(spec, arch);
  return globs.length ? model.freeze(globs) : [];
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
