import type { Filter } from '@cxr/data';

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
 * Settings from a model file's safetensors metadata, as `cxr train` writes it (`arch`, `head`,
 * `image_size`, `classes`; preprocessing then as `cxr predict --weights`: bilinear, shorter side
 * round(size·256/224), centre crop, ImageNet mean/std), or the fuller `cxr.*` keys where a file has
 * them (resize size, filter, mean, std). Null when the file records no architecture or classes:
 * the page then asks the user.
 */
export function settingsFromMetadata(meta: Record<string, string>, file: string): ModelSettings | null {
  const get = (k: string) => meta[`cxr.${k}`] ?? meta[k];
  const json = <V>(k: string, fallback: V): V => {
    const v = get(k);
    if (v === undefined) return fallback;
    try {
      return JSON.parse(v) as V;
    } catch {
      throw new Error(`${file}: metadata '${k}' is not valid JSON: ${v}`);
    }
  };
  const arch = get('arch');
  const classes = json<unknown>('classes', null);
  if (!arch || classes === null) return null;
  if (!Array.isArray(classes) || classes.length < 2 || !classes.every((c) => typeof c === 'string')) {
    throw new Error(`${file}: metadata 'classes' must list at least two class names`);
  }
  const inputSize = Number(get('input_size') ?? get('image_size') ?? 224);
  if (!Number.isInteger(inputSize) || inputSize < 1) throw new Error(`${file}: metadata input size '${get('input_size') ?? get('image_size')}' is not a whole number of pixels`);
  const defaults = userSettings({ arch, classes, inputSize, head: get('head') });
  return {
    ...defaults,
    resizeSize: Number(get('resize_size') ?? defaults.resizeSize),
    filter: (get('resize_filter') as Filter | undefined) ?? defaults.filter,
    mean: json('mean', defaults.mean),
    std: json('std', defaults.std),
    source: 'metadata',
  };
}
