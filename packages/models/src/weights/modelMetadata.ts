/**
 * What a trained model file carries so that it works on its own, away from its run folder:
 * architecture and head (to rebuild the module tree), class names in output order, the positive
 * class, and the exact evaluation preprocessing. Stored as safetensors `__metadata__` (string to
 * string), under `cxr.*` keys, readable by any safetensors reader (see the README for PyTorch).
 */
import { openSafetensors } from './safetensors.ts';

export interface ModelInfo {
  arch: string;
  /** Head spec as given to applyHead: 'replace', 'mlp:530', 'extend'. */
  head: string;
  /** Class names, index i = output logit i. */
  classes: string[];
  /** The class binary metrics treat as positive (null if the model was trained without one). */
  positiveClass: string | null;
  /** Side of the square network input (after the centre crop). */
  inputSize: number;
  /** Shorter side the image is resized to before the centre crop. */
  resizeSize: number;
  resizeFilter: 'bicubic' | 'bilinear';
  /** 'center': centre crop of inputSize after the resize. */
  crop: 'center';
  mean: [number, number, number];
  std: [number, number, number];
  /** How grey (and RGB) images become the 3 input channels: grey replicated, RGB kept. */
  channels: 'grey-to-rgb';
  /** CXR version that wrote the file. */
  version: string;
  /** Training epoch the weights come from. */
  epoch?: number;
}

const prefix = 'cxr.';

export function encodeModelInfo(info: ModelInfo): Record<string, string> {
  const m: Record<string, string> = { format: 'cxr' };
  const put = (k: string, v: unknown) => {
    if (v !== undefined && v !== null) m[prefix + k] = typeof v === 'string' ? v : JSON.stringify(v);
  };
  put('arch', info.arch);
  put('head', info.head);
  put('classes', info.classes);
  put('positive_class', info.positiveClass ?? undefined);
  put('input_size', info.inputSize);
  put('resize_size', info.resizeSize);
  put('resize_filter', info.resizeFilter);
  put('crop', info.crop);
  put('mean', info.mean);
  put('std', info.std);
  put('channels', info.channels);
  put('version', info.version);
  put('epoch', info.epoch);
  return m;
}

/** What --model needs; null when the file carries no CXR inference metadata (then the caller asks for flags). */
export function decodeModelInfo(meta: Record<string, string>, file = 'model file'): ModelInfo | null {
  const get = (k: string) => meta[prefix + k];
  if (get('arch') === undefined || get('classes') === undefined) return legacyModelInfo(meta, file);
  const json = <T>(k: string, fallback?: T): T => {
    const v = get(k);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      throw new Error(`${file}: metadata 'cxr.${k}' is missing`);
    }
    try {
      return JSON.parse(v) as T;
    } catch {
      throw new Error(`${file}: metadata 'cxr.${k}' is not valid JSON: ${v}`);
    }
  };
  const classes = json<string[]>('classes');
  if (!Array.isArray(classes) || classes.length < 2 || !classes.every((c) => typeof c === 'string'))
    throw new Error(`${file}: metadata 'cxr.classes' must list at least 2 class names`);
  const inputSize = json<number>('input_size');
  return {
    arch: get('arch'),
    head: get('head') ?? 'replace',
    classes,
    positiveClass: get('positive_class') ?? null,
    inputSize,
    resizeSize: json<number>('resize_size', Math.round((inputSize * 256) / 224)),
    resizeFilter: filterOf(get('resize_filter'), file),
    crop: 'center',
    mean: json<[number, number, number]>('mean', [0.485, 0.456, 0.406]),
    std: json<[number, number, number]>('std', [0.229, 0.224, 0.225]),
    channels: 'grey-to-rgb',
    version: get('version') ?? 'unknown',
    epoch: get('epoch') === undefined ? undefined : Number(get('epoch')),
  };
}

/**
 * Files written by CXR builds of 30 Nov 2026, before the `cxr.*` keys: unprefixed arch, head,
 * image_size and classes, preprocessed as CXR's training then did (bicubic resize to size * 256 /
 * 224, centre crop, ImageNet normalisation). Read here, in one place, so the viewer and the CLI
 * give such a file the same preprocessing. Null unless all of arch, classes and image_size are there.
 */
function legacyModelInfo(meta: Record<string, string>, file: string): ModelInfo | null {
  const inputSize = Number(meta.image_size);
  if (meta.arch === undefined || meta.classes === undefined || !Number.isInteger(inputSize) || inputSize <= 0) return null;
  let classes: unknown;
  try {
    classes = JSON.parse(meta.classes);
  } catch {
    return null;
  }
  if (!Array.isArray(classes) || classes.length < 2 || !classes.every((c) => typeof c === 'string')) return null;
  return {
    arch: meta.arch,
    head: meta.head ?? 'replace',
    classes,
    positiveClass: null,
    inputSize,
    resizeSize: Math.round((inputSize * 256) / 224),
    resizeFilter: filterOf(undefined, file),
    crop: 'center',
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    channels: 'grey-to-rgb',
    version: 'unknown',
  };
}

function filterOf(v: string | undefined, file: string): ModelInfo['resizeFilter'] {
  if (v === undefined || v === 'bicubic' || v === 'bilinear') return v ?? 'bicubic';
  throw new Error(`${file}: metadata 'cxr.resize_filter' is '${v}'; CXR resizes with bicubic or bilinear`);
}

/** Reads only the header of a .safetensors file; null when it has no CXR inference metadata. */
export function readModelInfo(path: string): ModelInfo | null {
  const f = openSafetensors(path);
  try {
    return decodeModelInfo(f.metadata, path);
  } finally {
    f.close();
  }
}
