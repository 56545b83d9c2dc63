/**
 * --freeze: the presets live with the models (`resolveFreeze` in @cxr/models); here they become
 * one-line ConfigErrors with a "did you mean" for a mistyped preset.
 */
import { freezePresetNames, resolveFreeze as resolveModelFreeze } from '@cxr/models';
import { ConfigError } from './configError.ts';
import { didYouMean } from './closestName.ts';

export { freezePresetNames };

/** Resolves a --freeze value to parameter globs for `arch`; [] means nothing frozen. */
export function resolveFreeze(spec: string, arch: string): string[] {
  try {
    return resolveModelFreeze(spec, arch);
  } catch (e) {
    const message = (e as Error).message;
    const bare = /^--freeze '([^']*)' is neither a preset/.exec(message);
    const hint = bare ? didYouMean(bare[1], ['none', 'backbone', 'head', 'features', 'vgg-convs', 'resnet-upto']) : '';
    throw new ConfigError(hint ? message.replace(' is neither a preset nor a parameter glob', ` is neither a preset nor a parameter glob${hint}`) : message);
  }
}
