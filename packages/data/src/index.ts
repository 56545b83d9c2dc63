export type { Image } from './image.ts';
export { makeImage } from './image.ts';
export { mulberry32, mixSeed, shuffleInPlace, type Rng } from './rng.ts';

export { decodeImage, type DecodeOptions } from './decode/index.ts';
export { decodeImageAsync } from './decode/decode-async.ts';
export { ImageDecodeError } from './decode/errors.ts';
export { sniffFormat, type ImageFormat } from './decode/sniff.ts';
export { readImageHeader, type ImageHeader } from './decode/header.ts';

export {
  ImageFolder,
  loadImageFolder,
  verifyHeader,
  DEFAULT_VAL_FRACTION,
  type Dataset,
  type Sample,
  type LoadOptions,
  type OnBadImage,
  type SkippedFile,
  type FolderInfo,
} from './dataset/imagefolder.ts';
export { scanLayout, splitOfFolder, SPLIT_ALIASES, IGNORED_FOLDER, type ScannedLayout, type IgnoredEntries } from './dataset/layout.ts';
export { parseClassSelection, resolveClassSelection, type ClassPick, type ClassMapping } from './dataset/classSelection.ts';
export { readManifest, type Manifest, type ManifestRow } from './dataset/manifest.ts';
export { groupedStratifiedSplit } from './dataset/groupSplit.ts';
export { stratifiedSplit, SPLITS, DEFAULT_FRACTIONS, type SplitName, type SplitFractions } from './dataset/split.ts';
export { parseCsv } from './dataset/csv.ts';

export { resize, resample, reduce, outputSize, type Filter, type Box } from './transforms/resize.ts';
export { crop, centerCrop, randomResizedCrop, randomResizedCropParams, pyRound } from './transforms/crop.ts';
export { rotate } from './transforms/rotate.ts';
export { hflip } from './transforms/flip.ts';
export { equalize } from './transforms/equalize.ts';
export { toCHW, toPlanes, toRgb, IMAGENET_MEAN, IMAGENET_STD } from './transforms/normalize.ts';
export { applyTransforms, trainTransforms, evalTransforms, type TransformSpec } from './transforms/pipeline.ts';

export { DataLoader, type Batch, type DataLoaderOptions, type PreparedImages } from './loader/dataloader.ts';
export { epochOrder, toBatches } from './loader/sampler.ts';
export { WorkerPool } from './loader/pool.ts';
export type { CacheConfig } from './loader/cache.ts';
export type { CacheNotice } from './loader/cacheWriter.ts';
export { cacheUsage, pruneCache, cachedImageBytes, formatBytes, type CacheUsage } from './loader/cacheBudget.ts';

export { synthesizeDataset, synthImage, type SynthOptions } from './synth/synth.ts';
export { auditDataset, type AuditSample, type AuditMeasurements, type AuditOptions, type ShortcutProbe } from './audit/auditDataset.ts';
export { describeFile, borderStats, type FileFacts } from './audit/fileFacts.ts';
export { perceptualHash, hammingDistance, nearDuplicateDistance, hashBits } from './audit/perceptualHash.ts';
export { findDuplicates, patientOverlap, type DuplicatePair, type GroupOverlap, type AuditedFile } from './audit/duplicates.ts';
export { shortcutFeatureNames, shortcutFeatures } from './audit/shortcutFeatures.ts';
export { fitLogistic, crossValidatedScores, type ProbeOptions } from './audit/logisticProbe.ts';
