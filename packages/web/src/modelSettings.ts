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
 * Settings from a model file's `cxr.*` safetensors metadata (written by `cxr train`); null when
 * the file has none, and the page asks the user instead.
 */
export function settingsFromMetadata(meta: Record<string, string>, file: string): ModelSettings | null {
  const info = readCxrMetadata(meta, file);
  if (!info) return null;
  return { ...info, source: 'metadata' };
}

// TEMPORARY until @cxr/models' decodeModelInfo (issue 12) lands in main: the same cxr.* keys.
function readCxrMetadata(meta: Record<string, string>, file: string): Omit<ModelSettings, 'source'> | null {
  const get = (k: string) => meta[`cxr.${k}`];
  if (get('arch') === undefined || get('classes') === undefined) return null;
  const json = <V>(k: string, fallback?: V): V => {
    const v = get(k);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      throw new Error(`${file}: metadata 'cxr.${k}' is missing`);
    }
    return JSON.parse(v) as V;
  };
  const inputSize = json<number>('input_size');
  return {
    arch: get('arch'),
    head: get('head') ?? 'replace',
    classes: json<string[]>('classes'),
    inputSize,
    resizeSize: json<number>('resize_size', Math.round((inputSize * 256) / 224)),
    filter: (get('resize_filter') ?? 'bicubic') as Filter,
    mean: json<[number, number, number]>('mean', [0.485, 0.456, 0.406]),
    std: json<[number, number, number]>('std', [0.229, 0.224, 0.225]),
  };
}
