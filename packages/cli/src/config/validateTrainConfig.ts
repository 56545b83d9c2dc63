/**
 * Turns merged raw option values (strings from flags, numbers/strings/booleans from a config
 * file) into a typed TrainConfig, or throws the first problem as a one-line ConfigError.
 */
import { architectures, knownArchs } from './architectures.ts';
import { ConfigError } from './configError.ts';
import { didYouMean } from './closestName.ts';
import { resolveFreeze } from './freezeSpec.ts';
import {
  parseBoolean,
  parseChoice,
  parseHead,
  parseInteger,
  parseNonNegativeNumber,
  parsePositiveNumber,
  parseSchedule,
  parseWeights,
} from './optionValues.ts';
import { augmentPresets, calibrations, losses, optimizers, precisions, selectionMetrics, type AugmentPreset, type TrainConfig } from './trainConfig.ts';
import { parseThresholdSpec } from '../metrics/threshold.ts';

export interface ValidateOptions {
  /** Architectures the model package implements; default all of knownArchs. */
  supportedArchs?: readonly string[];
  /** File check for --weights FILE (injectable for tests). */
  fileExists?: (path: string) => boolean;
}

function parseAugment(value: unknown): AugmentPreset {
  // Bare --augment means the standard preset, --no-augment none.
  if (value === true) return 'standard';
  if (value === false) return 'none';
  return parseChoice('--augment', value, augmentPresets);
}

/** --workers: 'auto' or a whole number of threads (0 = decode on the main thread). */
function parseWorkers(value: unknown): string {
  const v = String(value).trim().toLowerCase();
  if (v === 'auto') return v;
  return String(parseInteger('--workers', v, 0, 256, 'auto or 4'));
}

function parseText(flag: string, value: unknown, hint: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(`${flag} needs a value; ${hint}`);
  return value.trim();
}

/** 'auto' | 'none' | positive numbers 'w1,w2,…' (their count is checked against the classes found). */
function parseClassWeights(value: unknown): string {
  const v = String(value).trim().toLowerCase();
  if (v === 'auto' || v === 'none') return v;
  const parts = v.split(',').map((p) => p.trim());
  if (parts.length >= 2 && parts.every((p) => /^[0-9]*\.?[0-9]+(e[+-]?\d+)?$/.test(p) && Number(p) > 0)) return parts.join(',');
  throw new ConfigError(`bad --class-weights '${String(value)}'; use auto (inverse class frequency), none, or one positive weight per class such as 1,3`);
}

/**
 * Largest input side accepted: activations grow with its square (3000 px asked for > 6 GB in
 * predict); the study uses 224.
 */
export const maxImageSize = 1024;

/** --image-size for eval/predict, validated as train validates it. */
export function checkImageSize(value: unknown, arch: string): number {
  const n = parseInteger('--image-size', value, 1, maxImageSize, '224');
  const min = architectures[arch]?.minImageSize ?? 32;
  if (n < min) throw new ConfigError(`--image-size ${n} is too small for ${arch}; use at least ${min} (e.g. 64 or 224)`);
  return n;
}

export function validateTrainConfig(raw: Record<string, unknown>, options: ValidateOptions = {}): TrainConfig {
  const supported = options.supportedArchs ?? knownArchs;
  const arch = String(raw.arch ?? '')
    .trim()
    .toLowerCase();
  if (!supported.includes(arch) || !architectures[arch]) {
    throw new ConfigError(`unknown --arch '${String(raw.arch)}'${didYouMean(arch, supported)}; choose one of ${supported.join(', ')}`);
  }
  const info = architectures[arch];

  const config: TrainConfig = {
    data: parseText('--data', raw.data, 'pass the folder of class subfolders, e.g. --data data/cxr'),
    manifest: String(raw.manifest ?? '').trim(),
    classes: String(raw.classes ?? '').trim(),
    valFraction: parsePositiveNumber('--val-fraction', raw.valFraction ?? 0.15, '0.15'),
    positive: String(raw.positive ?? '').trim(),
    selectBy: parseChoice('--select-by', raw.selectBy ?? 'val-loss', selectionMetrics),
    patience: parseInteger('--patience', raw.patience ?? 0, 0, 100_000, '5'),
    balanced: parseBoolean('--balanced', raw.balanced ?? false),
    classWeights: parseClassWeights(raw.classWeights ?? 'none'),
    keepCheckpoints: parseBoolean('--keep-checkpoints', raw.keepCheckpoints ?? false),
    cacheMaxGb: parseNonNegativeNumber('--cache-max-gb', raw.cacheMaxGb ?? 10, '10'),
    workers: parseWorkers(raw.workers ?? 'auto'),
    arch,
    weights: String(raw.weights ?? '').trim(),
    head: String(raw.head ?? '').trim(),
    freeze: String(raw.freeze ?? '').trim() || 'none',
    optimizer: parseChoice('--optimizer', raw.optimizer, optimizers),
    lr: parsePositiveNumber('--lr', raw.lr, '1e-3'),
    momentum: parseNonNegativeNumber('--momentum', raw.momentum, '0.9'),
    weightDecay: parseNonNegativeNumber('--weight-decay', raw.weightDecay, '1e-4'),
    schedule: String(raw.schedule ?? '').trim(),
    epochs: parseInteger('--epochs', raw.epochs, 1, 100_000, '10'),
    batchSize: parseInteger('--batch-size', raw.batchSize, 1, 65_536, '32'),
    imageSize: parseInteger('--image-size', raw.imageSize, 1, maxImageSize, '224'),
    loss: parseChoice('--loss', raw.loss, losses),
    augment: parseAugment(raw.augment),
    seed: parseInteger('--seed', raw.seed, 0, 2 ** 32 - 1, '0'),
    out: parseText('--out', raw.out, 'pass a run folder such as --out runs/my-run'),
    limitPerClass: parseInteger('--limit-per-class', raw.limitPerClass ?? 0, 0, Number.MAX_SAFE_INTEGER, '50'),
    skipBadImages: parseBoolean('--skip-bad-images', raw.skipBadImages ?? false),
    resume: parseBoolean('--resume', raw.resume ?? false),
    force: parseBoolean('--force', raw.force ?? false),
    threshold: String(raw.threshold ?? 'youden')
      .trim()
      .toLowerCase(),
    calibrate: parseChoice('--calibrate', raw.calibrate ?? 'none', calibrations),
    dedupe: parseBoolean('--dedupe', raw.dedupe ?? false),
    // Runs from before --precision trained in float32.
    precision: parseChoice('--precision', raw.precision ?? 'f32', precisions),
  };

  // Structured options are parsed here once so later code can call the parsers without try/catch.
  parseWeights(config.weights, options.fileExists);
  parseHead(config.head);
  parseSchedule(config.schedule);
  try {
    parseThresholdSpec(config.threshold);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  resolveFreeze(config.freeze, arch);

  if (config.momentum >= 1) throw new ConfigError(`--momentum must be below 1 (e.g. 0.9), got ${config.momentum}`);
  if (config.lr > 10) throw new ConfigError(`--lr ${config.lr} is far too large to train; use a value such as 1e-3`);
  if (config.imageSize < info.minImageSize) {
    throw new ConfigError(`--image-size ${config.imageSize} is too small for ${arch}; use at least ${info.minImageSize} (e.g. 64 or 224)`);
  }
  if (config.valFraction >= 1) throw new ConfigError(`--val-fraction must be below 1 (e.g. 0.15), got ${config.valFraction}`);
  if (config.resume && config.force) throw new ConfigError('--resume and --force contradict each other; pass only one');
  return config;
}
