import type { Filter } from '@cxr/data';
import { decodeModelInfo } from '@cxr/models';

/** Everything the page needs to rebuild a model and preprocess images exactly as CXR did. */
export interface ModelSettings {
  arch: string;
  /** Head spec as given to applyHead: 'replace', 'mlp:530', 'extend'. */
  head: string;
  /** Class names, index i = output logit i. */
  classes: string[];
  /** Side of the square network input (after the centre crop). */
  inputSize: number;
  /** Shorter side the image is resized to before the centre crop. */
  resizeSize: number;
  filter: Filter;
  mean: [number, number, number];
  std: [number, number, number];
  /** Where the settings came from: the file's own metadata, or what the user typed. */
  source: 'metadata' | 'user';
}

/** Defaults of `cxr predict --weights` (torchvision's evaluation preset). */
export function userSettings(o: { arch: string; head?: string; classes: string[]; inputSize?: number; filter?: Filter }): ModelSettings {
  const inputSize = o.inputSize ?? 224;
  return {
    arch: o.arch,
    head: o.head ?? 'replace',
    classes: o.classes,
    inputSize,
    resizeSize: Math.round((inputSize * 256) / 224),
    filter: o.filter ?? 'bilinear',
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    source: 'user',
  };
}

/**
 * Settings from a model file's safetensors metadata: the `cxr.*` keys `cxr train` writes (arch,
 * head, classes, input size, resize rule, normalisation), read by @cxr/models' decodeModelInfo as
 * `cxr predict --model` reads them. Null when the file does not carry them: the page then asks the user.
 */
export function settingsFromMetadata(meta: Record<string, string>, file: string): ModelSettings | null {
  const info = decodeModelInfo(meta, file);
  if (!info) return null;
  const { arch, head, classes, inputSize, resizeSize, resizeFilter, mean, std } = info;
  return { arch, head, classes, inputSize, resizeSize, filter: resizeFilter, mean, std, source: 'metadata' };
}
