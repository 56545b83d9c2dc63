import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, join, resolve } from 'node:path';
import * as T from '@cxr/tensor';
import {
  DataLoader,
  evalTransforms,
  IMAGENET_MEAN,
  IMAGENET_STD,
  loadImageFolder,
  type Filter,
  type ImageFolder,
  type SkippedFile,
  type SplitName,
} from '@cxr/data';
import { applyDecisionRule, applyHead, createModel } from '@cxr/models';
import { formatList } from '@cxr/nn';
import { ConfigError } from '../config/configError.ts';
import type { TrainConfig } from '../config/trainConfig.ts';
import { checkImageSize } from '../config/validateTrainConfig.ts';
import { evaluatePredictions, type ClassificationMetrics } from '../metrics/classificationMetrics.ts';
import { classificationIntervals } from '../metrics/classificationIntervals.ts';
import { readJsonFile, runFiles } from '../run/runFolder.ts';
import { writeJsonAtomic } from '../run/atomicWrite.ts';
import { classIndexMap, readModelInfo, type ModelInfo } from '../run/modelInfo.ts';
import type { RunMetrics } from '../run/runMetrics.ts';
import { fileEpoch, loadModelFile } from '../train/checkpoint.ts';
import { predictAll } from '../train/steps.ts';
import { limitPerClass, skippedBySplit } from '../train/data.ts';
import { auditFile, type TrainingAudit } from '../audit/trainingAudit.ts';
import { auditImageFolder, dropCrossSplitDuplicates, dropFiles } from '../audit/dataAudit.ts';
import { metricsTable } from '../report/runReport.ts';
import { perClassTable } from '../report/perClassTable.ts';
import { intervalsTable } from '../report/evidenceReport.ts';
import { metricIntervals } from '../metrics/metricIntervals.ts';
import { readDecisionRule } from '../run/decisionRule.ts';
import { Command } from 'commander';
import { helpExamples } from './helpExamples.ts';
import { withModelOptions } from './modelOptions.ts';
import { createCountProgress } from '../progress/countProgress.ts';
import { checkModelFile } from './modelFileCheck.ts';

export interface EvalOptions {
  model?: string;
  run?: string;
  weights?: string;
  arch?: string;
  head?: string;
  data?: string;
  /** The data's own --classes (pick/rename its folders to the model's class names) and --manifest. */
  classes?: string;
  manifest?: string;
  split: string;
  imageSize?: number;
  batchSize?: number;
  /** Evaluate what decodes when some images do not (they are listed and counted in the result). */
  skipBadImages?: boolean;
}

export interface ModelSettings {
  weights: string;
  arch: string;
  head: string;
  imageSize: number;
  /** Where imageSize came from, for the warning when it is only the torchvision default. */
  imageSizeSource: 'flag' | 'run' | 'file' | 'default';
  data?: string;
  loss: TrainConfig['loss'];
  /** Class names in output order, when the run or the file records them. */
  classes?: string[];
  positiveClass?: string | null;
  /** Evaluation preprocessing: shorter side to resizeSize with `filter`, centre crop imageSize, normalise. */
  resizeSize: number;
  filter: Filter;
  mean: readonly number[];
  std: readonly number[];
}

export interface ModelSettingsOptions {
  model?: string;
  run?: string;
  weights?: string;
  arch?: string;
  head?: string;
  imageSize?: number;
  data?: string;
}

/** Preprocessing of a recorded model, or the defaults: bicubic for CXR runs, bilinear (torchvision's preset) for bare files. */
function preprocessing(
  info: Partial<ModelInfo>,
  imageSize: number,
  recordedSize: boolean,
  fallback: Filter,
): Pick<ModelSettings, 'resizeSize' | 'filter' | 'mean' | 'std'> {
  return {
    resizeSize: recordedSize && info.resizeSize !== undefined ? info.resizeSize : Math.round((imageSize * 256) / 224),
    filter: info.resizeFilter ?? fallback,
    mean: info.mean ?? IMAGENET_MEAN,
    std: info.std ?? IMAGENET_STD,
  };
}

/**
 * Settings of `--model FILE` (a model file that carries everything, see ModelInfo), of a finished
 * run folder, or those given on the command line with what the weights file records (classes,
 * input size, architecture) filling the gaps. A flag that contradicts the file's record is
 * refused rather than silently used.
 */
export function modelSettings(o: ModelSettingsOptions): ModelSettings {
  const given = (['model', 'run', 'weights'] as const).filter((k) => o[k] !== undefined);
  if (given.length > 1) throw new ConfigError(`give one of --model FILE, --run DIR or --weights FILE, not ${given.map((g) => `--${g}`).join(' and ')}`);
  if (o.model !== undefined) {
    checkModelFile('--model', o.model);
    const info = readModelInfo(o.model);
    if (!info.arch || !info.classes || info.inputSize === undefined) {
      throw new Error(
        `--model ${o.model}: the file has no CXR metadata (architecture, head, classes, input size); describe it with --weights ${o.model} --arch NAME --head SPEC --classes A,B [--image-size N]`,
      );
    }
    return modelSettings({ ...o, model: undefined, weights: o.model });
  }
  if (o.run) {
    const cfg = readJsonFile<TrainConfig>(join(o.run, runFiles.config));
    const weights = join(o.run, runFiles.model);
    if (!existsSync(weights) || !existsSync(join(o.run, runFiles.metrics)))
      throw new Error(
        `${o.run} has no finished model (${runFiles.model} and ${runFiles.metrics}): the run has not finished (resume it with cxr train --out ${o.run} --resume)`,
      );
    const metrics = readJsonFile<RunMetrics>(join(o.run, runFiles.metrics));
    const epoch = fileEpoch(weights);
    if (epoch !== null && epoch !== metrics.bestEpoch) {
      throw new Error(
        `${weights} holds epoch ${epoch} but ${runFiles.metrics} reports best epoch ${metrics.bestEpoch} (an interrupted run?); resume it with cxr train --out ${o.run} --resume`,
      );
    }
    const info = readModelInfo(weights);
    const classes = info.classes ?? Object.values(metrics.splits).find((m) => m)?.classNames;
    const arch = o.arch ?? cfg.arch;
    const imageSize = o.imageSize !== undefined ? checkImageSize(o.imageSize, arch) : cfg.imageSize;
    return {
      weights,
      arch,
      head: o.head ?? cfg.head,
      imageSize,
      imageSizeSource: o.imageSize !== undefined ? 'flag' : 'run',
      data: o.data ?? cfg.data,
      loss: cfg.loss,
      classes,
      positiveClass: info.positiveClass ?? metrics.positiveClass ?? null,
      ...preprocessing(info, imageSize, o.imageSize === undefined, 'bicubic'),
    };
  }
  if (!o.weights) throw new Error('give --run DIR, or --weights FILE (with --arch and --head as trained, unless the file records them)');
  checkModelFile('--weights', o.weights);
  const info = readModelInfo(o.weights);
  for (const [flag, given, recorded] of [
    ['--arch', o.arch, info.arch],
    ['--head', o.head, info.head],
  ] as const) {
    if (given !== undefined && recorded !== undefined && given !== recorded)
      throw new Error(`${flag} ${given} contradicts ${o.weights}, which was trained with ${flag} ${recorded}; drop the flag`);
  }
  const arch = o.arch ?? info.arch;
  if (!arch) throw new Error(`--arch is required: ${o.weights} does not record its architecture`);
  const imageSize = o.imageSize !== undefined ? checkImageSize(o.imageSize, arch) : (info.inputSize ?? 224);
  return {
    weights: o.weights,
    arch,
    head: o.head ?? info.head ?? 'replace',
    imageSize,
    imageSizeSource: o.imageSize !== undefined ? 'flag' : info.inputSize !== undefined ? 'file' : 'default',
    data: o.data,
    loss: 'ce',
    classes: info.classes,
    positiveClass: info.positiveClass ?? null,
    ...preprocessing(info, imageSize, o.imageSize === undefined || o.imageSize === info.inputSize, info.arch ? 'bicubic' : 'bilinear'),
  };
}

/** Files of `split` that could not be used: failed the folder's header check (in the split the data assigned them) or the decoder. */
export function skippedInSplit(folder: ImageFolder, split: SplitName, decoded: readonly SkippedFile[]): SkippedFile[] {
  return skippedBySplit(folder, [{ split, files: decoded }])[split] ?? [];
}

/** Which data an evaluation used, as recorded in its eval file. */
export interface EvaluatedOn {
  data: string;
  manifest?: string;
  classes?: string;
  split: SplitName;
  /** The run's own data and classes: the run's own evaluation (eval-<split>.json). */
  runsOwnSplits: boolean;
  /** The run's images (folder, manifest) split as the run split them (seed, validation fraction, --limit-per-class, --dedupe), with any --classes. */
  splitAsTheRun: boolean;
  /** Input size, when --image-size made it another than the run was trained at. */
  imageSize?: number;
}

/**
 * Whether `--data`/`--manifest`/`--classes` describe the data the run was trained on (omitted
 * ones default to the run's). Only then are the run's splits reproduced and its eval-<split>.json
 * written: any other data is a different evaluation.
 */
export function isRunsOwnData(run: TrainConfig, o: { data?: string; manifest?: string; classes?: string }): boolean {
  const data = o.data ?? run.data;
  const manifestOf = (root: string, m: string | undefined) => (m ? resolve(root, m) : '');
  return (
    resolve(data) === resolve(run.data) &&
    (o.manifest === undefined || manifestOf(data, o.manifest) === manifestOf(run.data, run.manifest)) &&
    (o.classes === undefined || o.classes === run.classes)
  );
}

/**
 * Whether an evaluation is the run's own (written as its eval-<split>.json): its own data and
 * classes (isRunsOwnData) at the input size it was trained at. `eval --run R --image-size 64` on a
 * run trained at 32 px replaced the run's eval-val.json with numbers for another preprocessing
 * (AUC 0.000 became 1.000) and recorded nothing that told them apart.
 */
export function isRunsOwnEvaluation(run: TrainConfig, o: { data?: string; manifest?: string; classes?: string }, imageSize: number): boolean {
  return isRunsOwnData(run, o) && imageSize === run.imageSize;
}

/**
 * The run's eval-<split>.json for its own data; for other data a name of its own (folder name and
 * a hash of data, manifest and classes), so that evaluating elsewhere never replaces the run's result.
 */
export function evalFileName(on: Pick<EvaluatedOn, 'data' | 'manifest' | 'classes' | 'split' | 'runsOwnSplits' | 'imageSize'>): string {
  if (on.runsOwnSplits) return `eval-${on.split}.json`;
  // another input size is another evaluation (its own file); without one the names stay as before
  const key = [on.data, on.manifest ?? '', on.classes ?? '', ...(on.imageSize !== undefined ? [on.imageSize] : [])];
  const hash = createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 8);
  const name = basename(on.data).replace(/[^A-Za-z0-9._-]+/g, '_') || 'data';
  return `eval-${on.split}-on-${name}-${hash}.json`;
}

/**
 * Removes from the folder's splits what `train --dedupe` dropped: the list in the run's
 * audit.json, else (a run folder without one) the same audit again.
 */
async function dropDedupedFiles(folder: ImageFolder, run: string, seed: number): Promise<void> {
  const path = join(run, auditFile);
  if (!existsSync(path)) {
    console.warn(`!! ${run} was trained with --dedupe but has no ${auditFile}: finding the cross-split duplicates again to reproduce its splits`);
    dropCrossSplitDuplicates(folder, (await auditImageFolder(folder, { seed })).audit);
    return;
  }
  dropFiles(folder, new Set(readJsonFile<TrainingAudit>(path).dropped ?? []));
}

export interface EvalResult extends ClassificationMetrics {
  /** Images of the split that could not be decoded and are not in the metrics. */
  skipped: SkippedFile[];
}

export async function evaluateCommand(o: EvalOptions): Promise<EvalResult> {
  const s = modelSettings(o);
  if (!s.data) throw new ConfigError('--data DIR is required with --model or --weights');
  if (!['train', 'val', 'test'].includes(o.split)) throw new ConfigError(`--split ${o.split}: use train, val or test`);
  if (s.imageSizeSource === 'default')
    console.warn(`!! ${s.weights} does not record its input size: using 224 px; pass --image-size if it was trained at another`);
  // A run evaluated on its own data reproduces its splits exactly as train made them (seed, carved
  // validation, --classes, --manifest, --dedupe, --limit-per-class): --split val must not land on
  // training images. Other data is split by its own folders or the defaults.
  const runConfig = o.run ? readJsonFile<TrainConfig>(join(o.run, runFiles.config)) : undefined;
  // The run's own images (its folder and manifest) are split as the run split them whatever
  // --classes picks, so that no split lands on its training images; only an evaluation with the
  // run's own classes as well is the run's eval-<split>.json.
  const sameImages = runConfig !== undefined && isRunsOwnData(runConfig, { data: o.data, manifest: o.manifest });
  const atRunSize = runConfig === undefined || s.imageSize === runConfig.imageSize;
  const ownData = sameImages && isRunsOwnEvaluation(runConfig, o, s.imageSize);
  const cfg: Partial<TrainConfig> = sameImages ? runConfig : {};
  const manifest = o.manifest ?? (cfg.manifest || undefined);
  const folder = await loadImageFolder(s.data, {
    onBadImage: 'skip',
    log: () => {},
    warn: (m) => console.warn(m),
    seed: cfg.seed,
    valFraction: cfg.valFraction,
    classes: o.classes ?? (cfg.classes || undefined),
    manifest,
  });
  if (sameImages && cfg.dedupe) await dropDedupedFiles(folder, o.run!, cfg.seed ?? 0);
  const evaluatedOn: EvaluatedOn = {
    data: resolve(s.data),
    ...(manifest ? { manifest: resolve(s.data, manifest) } : {}),
    ...((o.classes ?? cfg.classes) ? { classes: o.classes ?? cfg.classes } : {}),
    split: o.split as SplitName,
    runsOwnSplits: ownData,
    splitAsTheRun: sameImages,
    ...(atRunSize ? {} : { imageSize: s.imageSize }),
  };
  const classes = s.classes ?? folder.classes;
  if (!s.classes) console.warn(`!! ${s.weights} does not record its class names: assuming the data's [${folder.classes.join(', ')}] in that order`);
  const toModel = classIndexMap(classes, folder.classes, { model: o.run ?? s.weights, data: `--data ${s.data}` });
  const split = limitPerClass(folder.split(o.split as SplitName), cfg.limitPerClass ?? 0);
  const ds = { classes, samples: split.samples.map((x) => ({ ...x, label: toModel[x.label] })) };
  if (!ds.samples.length) throw new Error(`--data ${s.data}: the ${o.split} split is empty`);
  await T.getDevice();
  const model = createModel(s.arch, { initialize: false }); // every tensor is loaded below
  try {
    applyHead(model, s.head, classes.length);
    await loadModelFile(s.weights, model);
    model.eval();
    const transforms = evalTransforms({ size: s.imageSize, resize: s.resizeSize, filter: s.filter });
    const loader = new DataLoader(ds, {
      batchSize: o.batchSize ?? 16,
      shuffle: false,
      transforms,
      workers: 1,
      onBadImage: 'skip',
      // the model's recorded normalisation, as predict applies it (the loader's default is ImageNet's)
      mean: [...s.mean],
      std: [...s.std],
      deferNormalize: true,
      warn: () => {},
    });
    const progress = createCountProgress(`eval ${o.split}`, ds.samples.length);
    const p = await predictAll(model, loader, s.loss, 0, (done) => progress.update(done)).finally(() => {
      progress.stop();
      loader.close();
    });
    const skipped = skippedInSplit(folder, o.split as SplitName, loader.skipped);
    if (skipped.length && !o.skipBadImages) {
      throw new Error(
        `${skipped.length} image(s) of the ${o.split} split could not be decoded, so the metrics would silently cover ${p.labels.length} of ${p.labels.length + skipped.length} images: ${formatList(
          skipped.map((f) => `${f.file} (${f.reason})`),
          5,
        )}; fix them, or pass --skip-bad-images to evaluate without them (they are then listed in the result)`,
      );
    }
    if (!p.labels.length) throw new Error(`no image of the ${o.split} split could be decoded`);
    const predictions = { probs: p.probs, labels: p.labels, classNames: classes };
    const point = evaluatePredictions(predictions, { positiveClass: s.positiveClass ?? undefined });
    const m: EvalResult = { ...point, ci: classificationIntervals(predictions, point, { seed: cfg.seed }), skipped };
    console.log(metricsTable({ [o.split]: m }));
    console.log(`\n${perClassTable(m)}`);
    // The model's stored decision rule (validation threshold, temperature), as predict applies it.
    const rule = readDecisionRule(s.weights);
    const positive = Math.max(
      0,
      classes.findIndex((c) => c.toLowerCase() === (rule?.positiveClass ?? m.positiveClass).toLowerCase()),
    );
    const atThreshold = metricIntervals(
      { probs: applyDecisionRule(p.probs, classes, rule).probs, labels: p.labels, classNames: classes, positive, threshold: rule?.threshold ?? null },
      { seed: cfg.seed },
    );
    console.log(
      `\n${rule?.threshold != null ? `At the stored threshold p(${atThreshold.positiveClass}) >= ${rule.threshold.toFixed(4)}` : 'By the most probable class'}, with 95% intervals:\n${intervalsTable({ [o.split]: atThreshold })}`,
    );
    if (skipped.length)
      console.warn(
        `!! ${skipped.length} image(s) skipped (not in the metrics): ${formatList(
          skipped.map((f) => f.file),
          10,
        )}`,
      );
    if (o.run) {
      const file = join(o.run, evalFileName(evaluatedOn));
      writeJsonAtomic(file, { ...m, atThreshold, evaluatedOn });
      console.log(`\nwritten to ${file}`);
    }
    return m;
  } finally {
    model.dispose();
  }
}

export function evalCommand(): Command {
  const command = new Command('eval').description('metrics of a trained model on a split of a dataset');
  return withModelOptions(command, {
    run: 'run folder written by cxr train (its model, data and splits)',
    classes: "pick/rename the data's classes to the model's, e.g. COVID=infected,Normal=normal",
  })
    .option(
      '--data <dir>',
      "dataset root (default: the run's; with --run, other data is written to eval-SPLIT-on-NAME-HASH.json, not the run's eval-SPLIT.json)",
    )
    .option('--manifest <file.csv>', 'CSV manifest under --data (path,label[,split][,group])')
    .option('--split <name>', 'train, val or test', 'test')
    .option('--skip-bad-images', 'evaluate the images that decode and list the others, instead of failing')
    .addHelpText(
      'after',
      helpExamples([
        'cxr eval --run runs/vgg',
        'cxr eval --model model.safetensors --data COVID-19_Radiography_Dataset --classes COVID=infected,Normal=normal',
        'cxr eval --weights old.safetensors --arch resnet18 --head replace --data data/cxr --split val',
      ]),
    )
    .action(async (o) => {
      await evaluateCommand(o);
    });
}
