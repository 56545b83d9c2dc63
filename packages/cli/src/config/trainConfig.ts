/**
 * The `train` options as one JSON-serialisable object with the same keys as the config file, so
 * the config.json written into a run folder can be passed back with --config to rerun it.
 * Structured views of the string-valued options (head, schedule, weights, freeze) come from the
 * parse functions in optionValues.ts / freezeSpec.ts; validation has already run them, so they
 * cannot fail on a validated config.
 */

export const optimizers = ['sgd', 'adam', 'adamw'] as const;
export const losses = ['ce', 'focal', 'bce'] as const;
/** Augmentation presets: standard = the study's training augmentation in @cxr/data (random resized crop, ±30° rotation, flip). */
export const augmentPresets = ['none', 'standard'] as const;

/** Which validation number picks the epoch kept as model.safetensors. */
export const selectionMetrics = ['val-loss', 'val-accuracy', 'val-f1', 'val-auc'] as const;
/** --precision: float32 throughout, or mixed precision (float16 activations, float32 master weights, loss scaling). */
export const precisions = ['f32', 'f16'] as const;
/** --calibrate: temperature scaling fitted on validation, or none. */
export const calibrations = ['none', 'temperature'] as const;

export type Optimizer = (typeof optimizers)[number];
export type SelectionMetric = (typeof selectionMetrics)[number];
export type Calibration = (typeof calibrations)[number];
export type Precision = (typeof precisions)[number];
export type Loss = (typeof losses)[number];
export type AugmentPreset = (typeof augmentPresets)[number];

export interface TrainConfig {
  /** Image-folder dataset root (see @cxr/data); with a manifest, the folder its paths are relative to is the CSV's. */
  data: string;
  /** CSV manifest (path,label[,split][,group]) relative to `data`, or '' for folders. */
  manifest: string;
  /** --classes: '' = every class found; 'COVID=infected,Normal=normal' keeps, renames, merges. */
  classes: string;
  /** Share of train carved out as validation when the data has train and test only. */
  valFraction: number;
  /** Positive class for binary metrics; '' = the one not named like normal/negative/healthy. */
  positive: string;
  /** Which validation number picks the kept epoch. */
  selectBy: SelectionMetric;
  /** Stop after this many epochs without improvement of selectBy (0 = never). */
  patience: number;
  /** Class-balanced sampling of the training set. */
  balanced: boolean;
  /** Cross-entropy class weights: 'none', 'auto' (inverse frequency) or 'w1,w2,…' in class order. */
  classWeights: string;
  /** Keep last.safetensors/optimizer state after a successful run. */
  keepCheckpoints: boolean;
  /** Cap of the decoded-image cache in GB (0 = no cache). */
  cacheMaxGb: number;
  /** Image-decoding worker threads: 'auto' (see loaderWorkers.ts) or a count (0 = on the main thread). */
  workers: string;
  arch: string;
  /** 'imagenet' | 'none' | path of a weights file. */
  weights: string;
  /** 'mlp:N[,N...]' | 'replace' | 'extend'. */
  head: string;
  /** Preset or parameter globs, see freezeSpec.ts. */
  freeze: string;
  optimizer: Optimizer;
  lr: number;
  /** SGD momentum (ignored by adam/adamw). */
  momentum: number;
  weightDecay: number;
  /** 'constant' | 'cosine' | 'step:EVERY[:GAMMA]', see parseSchedule. */
  schedule: string;
  epochs: number;
  batchSize: number;
  imageSize: number;
  loss: Loss;
  augment: AugmentPreset;
  seed: number;
  /** Run folder, e.g. runs/NAME. */
  out: string;
  /** At most this many images per class per split (0 = all); used by the smoke profile. */
  limitPerClass: number;
  /**
   * Train and evaluate without images that cannot be decoded (listed in metrics.json and
   * report.md). Off, a validation or test image that fails stops the run: metrics over fewer
   * images than the split holds would otherwise pass unnoticed.
   */
  skipBadImages: boolean;
  resume: boolean;
  force: boolean;
  /** Decision threshold on p(positive), chosen on validation: 'youden' | a probability | 'sens:0.95'. */
  threshold: string;
  calibrate: Calibration;
  /** Drop cross-split duplicates found by the data audit from the smaller split. */
  dedupe: boolean;
  /**
   * f16: training steps run under autocast (conv and linear in float16 storage, f32 accumulation,
   * float32 master weights) with dynamic loss scaling; evaluation stays float32, as `cxr eval`.
   */
  precision: Precision;
}

export type TrainConfigKey = keyof TrainConfig;

/** Where the built-in synthetic dataset lives; the default run synthesises it there when absent. */
export const defaultDataDir = 'data/synthetic';

/**
 * The embedded default run: a ResNet-18 fine-tuned at 64 px for a few epochs, sized to finish in
 * a few minutes on a 2-core CPU through lavapipe (~10–20 GFLOP/s).
 */
export const defaultTrainConfig: Readonly<TrainConfig> = Object.freeze({
  data: defaultDataDir,
  manifest: '',
  classes: '',
  valFraction: 0.15,
  positive: '',
  selectBy: 'val-loss',
  patience: 0,
  balanced: false,
  classWeights: 'none',
  keepCheckpoints: false,
  cacheMaxGb: 10,
  workers: 'auto',
  arch: 'resnet18',
  weights: 'imagenet',
  head: 'replace',
  freeze: 'none',
  optimizer: 'adam',
  lr: 1e-3,
  momentum: 0.9,
  weightDecay: 0,
  schedule: 'constant',
  epochs: 5,
  batchSize: 16,
  imageSize: 64,
  loss: 'ce',
  augment: 'none',
  seed: 0,
  out: 'runs/default',
  limitPerClass: 0,
  skipBadImages: false,
  resume: false,
  force: false,
  threshold: 'youden',
  calibrate: 'none',
  dedupe: false,
  precision: 'f32',
});

export const trainConfigKeys = Object.keys(defaultTrainConfig) as TrainConfigKey[];

/**
 * With your own --data, defaults follow the study (224 px as ImageNet-pretrained VGG16/ResNet-18
 * expect, 10 epochs, ImageNet weights); the embedded default run keeps its small, fast settings.
 */
export const studyDataDefaults: Readonly<Partial<TrainConfig>> = Object.freeze({ imageSize: 224, epochs: 10, weights: 'imagenet' });
