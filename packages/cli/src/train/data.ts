import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { formatList } from '@cxr/nn';
import {
  DataLoader,
  applyTransforms,
  decodeImage,
  evalTransforms,
  formatBytes,
  loadImageFolder,
  mulberry32,
  synthesizeDataset,
  trainTransforms,
  type Dataset,
  type ImageFolder,
  type SkippedFile,
  type SplitName,
  WorkerPool,
  type CacheConfig,
  type PreparedImages,
  type TransformSpec,
} from '@cxr/data';
import type { SampleImage } from '../report/imagePixels.ts';
import type { TrainConfig } from '../config/trainConfig.ts';
import { imageCacheFor } from './imageCache.ts';

/** The built-in dataset of the embedded default run: made once, reused after. */
export async function ensureSyntheticData(dir: string, log: (m: string) => void): Promise<void> {
  if (existsSync(dir) && readdirSync(dir).length > 0) return;
  log(`synthesising the built-in chest-X-ray-like dataset in ${dir} (once)…`);
  await synthesizeDataset({ out: dir, perClass: 120, size: 96, seed: 0 });
}

/** Opens the image folders and checks what training needs: two classes or more, every split non-empty. */
export async function openDataset(config: TrainConfig, log: (m: string) => void, warn: (m: string) => void): Promise<ImageFolder> {
  if (!existsSync(config.data))
    throw new Error(`--data ${config.data}: no such folder (expected <split>/<class>/*.png|jpg; try \`pnpm cli data synth --out ${config.data}\`)`);
  const folder = await loadImageFolder(config.data, {
    seed: config.seed,
    valFraction: config.valFraction,
    classes: config.classes || undefined,
    manifest: config.manifest || undefined,
    onBadImage: 'skip',
    log,
    warn,
  });
  if (folder.classes.length < 2)
    throw new Error(`--data ${config.data}: found ${folder.classes.length} class folder(s) (${folder.classes.join(', ') || 'none'}); need at least 2`);
  const counts = folder.counts();
  for (const split of ['train', 'val'] as const) {
    for (const c of folder.classes) {
      if (!counts[split][c]) throw new Error(`--data ${config.data}: class '${c}' has no images in the ${split} split; add some or drop the class folder`);
    }
  }
  const lost = skippedBySplit(folder, []);
  const evalLost = [...(lost.val ?? []), ...(lost.test ?? [])];
  if (evalLost.length && !config.skipBadImages) throw badImagesError(evalLost, 'validation/test');
  return folder;
}

/** Skipped files (the folder's header check plus the loaders' decoder) grouped by the split they were assigned. */
export function skippedBySplit(
  folder: ImageFolder,
  decoded: readonly { split: SplitName; files: readonly SkippedFile[] }[],
): Partial<Record<SplitName, SkippedFile[]>> {
  const out: Partial<Record<SplitName, SkippedFile[]>> = {};
  const add = (s: SplitName, f: SkippedFile) => {
    if (!(out[s] ??= []).some((g) => g.file === f.file)) out[s]!.push(f);
  };
  // A split made here (no split folders, no split column) drops bad files before splitting: they
  // belong to none. Listed by split, as file and reason (the split is the key).
  for (const { file, reason, split } of folder.skipped) if (split) add(split, { file, reason });
  for (const d of decoded) for (const f of d.files) add(d.split, f);
  return out;
}

/** Metrics over fewer images than the split holds must be asked for, not happen. */
export function badImagesError(files: readonly SkippedFile[], where: string): Error {
  return new Error(
    `${files.length} ${where} image(s) cannot be decoded: ${formatList(
      files.map((f) => `${f.file} (${f.reason})`),
      5,
    )}; fix or remove them, or pass --skip-bad-images to leave them out (they are then listed in metrics.json and report.md)`,
  );
}

/** At most `limit` images per class (0 = all), taken in file order so runs agree. */
export function limitPerClass(ds: Dataset, limit: number): Dataset {
  if (!limit) return ds;
  const seen = new Map<number, number>();
  const samples = ds.samples.filter((s) => {
    const n = seen.get(s.label) ?? 0;
    seen.set(s.label, n + 1);
    return n < limit;
  });
  return { ...ds, samples };
}

/**
 * Decoded validation batches kept between epochs. Real X-rays take ~35 ms each to decode on one
 * thread: on 54 of them that was 1.9 s of every 6.9 s epoch at 64 px (benchmarks/README.md).
 * 256 MB holds ~1,300 images at 224 px (one float channel each); past it the rest are decoded
 * each epoch as before.
 */
const keptValidationBytes = 256 * 2 ** 20;

/** A split of the folder as the run uses it (`--limit-per-class` applied). */
function runSplit(folder: ImageFolder, config: TrainConfig, split: SplitName): Dataset {
  return limitPerClass(folder.split(split), config.limitPerClass);
}

/**
 * The training pass's decoded-image cache (announced, bounded; see imageCache.ts) and the files it
 * will read through it, which the data audit can fill as it decodes them.
 */
export function trainingImageCache(
  folder: ImageFolder,
  config: TrainConfig,
  log: (m: string) => void = () => {},
): { config: CacheConfig; files: Set<string> } | undefined {
  const samples = runSplit(folder, config, 'train').samples;
  const cache = imageCacheFor(config.imageSize, samples.length, config.cacheMaxGb, log);
  return cache ? { config: cache, files: new Set(samples.map((s) => s.file)) } : undefined;
}

/**
 * Evaluation images (validation, then test, then the training set's evaluation pass) that the
 * data audit puts through the evaluation transforms from its own decode, so that their first pass
 * decodes nothing: on cxr-real that was 54 validation images at ~26 ms each in epoch 1. Bounded by
 * `preparedBytes`, counted as if every image were colour; the rest decode as before.
 */
export function evaluationImages(
  folder: ImageFolder,
  config: TrainConfig,
  log: (m: string) => void = () => {},
): { transforms: TransformSpec[]; files: Set<string>; maxBytes: number } {
  const perImage = config.imageSize * config.imageSize * 3 * 4;
  const room = Math.floor(preparedBytes / perImage);
  const files = (['val', 'test', 'train'] as const).flatMap((s) => runSplit(folder, config, s).samples.map((x) => x.file)).slice(0, room);
  log(
    `evaluation images: ${files.length} prepared from the audit's decode for their first pass (in memory, at most ${formatBytes(preparedBytes)}; never written to disk)`,
  );
  return { transforms: evaluationTransforms(config), files: new Set(files), maxBytes: preparedBytes };
}

/** What every evaluation pass of a run does to an image (and the audit's prepared images). */
function evaluationTransforms(config: TrainConfig): TransformSpec[] {
  return evalTransforms({ size: config.imageSize });
}

/** Memory for evaluation images made by the audit (evaluationImages). */
const preparedBytes = 256 * 2 ** 20;

/**
 * Starts the training loader's decoding threads (~0.15 s each to boot) before the loader exists:
 * they boot while the data audit reads the images, and the loader, made once the audit has said
 * which files stay (`--dedupe`), takes them over. The evaluation loaders start theirs only if
 * they decode at all: the audit prepares their images (evaluationImages). Idle threads never keep
 * the process alive (WorkerPool), should the caller throw before using them.
 */
export function startTrainingDecoders(workers: number): WorkerPool | undefined {
  return workers > 0 ? new WorkerPool(workers) : undefined;
}

export interface LoaderOptions {
  /** decoding threads per loader (0: the main thread); ignored for a loader given a started pool */
  workers?: number;
  /** the training loader's decoding threads, started earlier (startTrainingDecoders) */
  trainingPool?: WorkerPool;
  /** the training pass's image cache (trainingImageCache); absent: none */
  cache?: CacheConfig;
  /** evaluation images made by the audit (evaluationImages), shared by the evaluation loaders */
  prepared?: PreparedImages;
  /** false: the workers write normalised 3-channel batches, as before (benchmarks compare the two) */
  deferNormalize?: boolean;
}

/** The four loaders of a run, over the folder as it is now: make them after any `--dedupe`. */
export function makeLoaders(
  folder: ImageFolder,
  config: TrainConfig,
  log: (m: string) => void = () => {},
  options: LoaderOptions = {},
): { train: DataLoader; trainEval: DataLoader; val: DataLoader; test: DataLoader | null } {
  const size = config.imageSize;
  const evalT = evaluationTransforms(config);
  const trainT = config.augment === 'standard' ? trainTransforms({ size }) : evalT;
  // reuseBuffers: every loop here uploads a batch (T.tensor copies) before asking for the next, so
  // the loader hands each batch's buffer back to its workers instead of allocating 19 MB a batch.
  // deferNormalize: grey batches cross to the device as one un-normalised channel (6 MB instead
  // of 19 at 224 px, batch 32); batchTensors expands and normalises them there.
  const common = {
    batchSize: config.batchSize,
    seed: config.seed,
    onBadImage: 'skip' as const,
    workers: options.workers ?? 1,
    reuseBuffers: true,
    deferNormalize: options.deferNormalize ?? true,
  };
  const ds = (s: SplitName) => runSplit(folder, config, s);
  const test = ds('test');
  const trainSet = ds('train');
  // A last batch of one image makes batch norm throw (variance of one value); drop it, as PyTorch
  // users do with drop_last. Only then: other partial batches train as usual.
  const dropLast = trainSet.samples.length % config.batchSize === 1 && trainSet.samples.length > 1;
  log(`validation batches: kept in memory after the first pass for the later epochs (up to ${formatBytes(keptValidationBytes)}, never written to disk)`);
  if (dropLast)
    log(
      `training: ${trainSet.samples.length} images in batches of ${config.batchSize} leave a last batch of one, which batch norm cannot train on; it is dropped each epoch (drop_last)`,
    );
  return {
    // Only the training pass reads through the disk cache (decoded, shrunk to 256 px, 8-bit): it is
    // re-read every epoch. Evaluation decodes the originals, so its numbers match `cxr eval`.
    train: new DataLoader(trainSet, {
      ...common,
      pool: options.trainingPool,
      shuffle: true,
      balanced: config.balanced,
      dropLast,
      transforms: trainT,
      cache: options.cache ?? false,
    }),
    trainEval: new DataLoader(ds('train'), { ...common, shuffle: false, transforms: evalT, prepared: options.prepared }),
    // Validated every epoch with the same transforms: decoded once and kept (in memory only).
    val: new DataLoader(ds('val'), {
      ...common,
      shuffle: false,
      transforms: evalT,
      keepInMemory: keptValidationBytes,
      prepared: options.prepared,
    }),
    test: test.samples.length ? new DataLoader(test, { ...common, shuffle: false, transforms: evalT, prepared: options.prepared }) : null,
  };
}

/** An image as the model saw it at evaluation (for samples.png). */
export function evalImage(file: string, size: number): SampleImage {
  const img = applyTransforms(decodeImage(new Uint8Array(readFileSync(file)), file), evalTransforms({ size }), mulberry32(0));
  return { pixels: img.data, width: img.width, height: img.height, channels: img.channels, layout: 'hwc' };
}
