import { existsSync } from 'node:fs';
import { join } from 'node:path';
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
import { metricsTable } from '../report/runReport.ts';
import { perClassTable } from '../report/perClassTable.ts';
import { intervalsTable } from '../report/evidenceReport.ts';
import { metricIntervals } from '../metrics/metricIntervals.ts';
import { readDecisionRule } from '../run/decisionRule.ts';
import { Command } from 'commander';
import { helpExamples } from './helpExamples.ts';
import { withModelOptions } from './modelOptions.ts';

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
    if (!existsSync(o.model)) throw new Error(`--model ${o.model}: no such file`);
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
  if (!existsSync(o.weights)) throw new Error(`--weights ${o.weights}: no such file`);
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

/** Files of `split` that could not be used: failed the folder's header check or the decoder. */
export function skippedInSplit(folder: ImageFolder, split: SplitName, decoded: readonly SkippedFile[]): SkippedFile[] {
  const prefix = join(folder.root, folder.info.splitFolders[split] ?? split) + '/';
  return [...folder.skipped.filter((s) => s.file.startsWith(prefix)), ...decoded];
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
  // A run evaluated on its own data reproduces its splits (seed, carved validation, --classes, --manifest).
  const cfg: Partial<TrainConfig> = o.run && !o.data ? readJsonFile<TrainConfig>(join(o.run, runFiles.config)) : {};
  const folder = await loadImageFolder(s.data, {
    onBadImage: 'skip',
    log: () => {},
    warn: (m) => console.warn(m),
    seed: cfg.seed,
    valFraction: cfg.valFraction,
    classes: o.classes ?? (cfg.classes || undefined),
    manifest: o.manifest ?? (cfg.manifest || undefined),
  });
  const classes = s.classes ?? folder.classes;
  if (!s.classes) console.warn(`!! ${s.weights} does not record its class names: assuming the data's [${folder.classes.join(', ')}] in that order`);
  const toModel = classIndexMap(classes, folder.classes, { model: o.run ?? s.weights, data: `--data ${s.data}` });
  const split = folder.split(o.split as SplitName);
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
    const p = await predictAll(model, loader, s.loss, 0).finally(() => loader.close());
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
    if (o.run) writeJsonAtomic(join(o.run, `eval-${o.split}.json`), { ...m, atThreshold });
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
    .option('--data <dir>', "dataset root (default: the run's)")
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
