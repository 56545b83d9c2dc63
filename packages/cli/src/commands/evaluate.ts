import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '@cxr/tensor';
import { DataLoader, evalTransforms, loadImageFolder, type SkippedFile, type SplitName } from '@cxr/data';
import { applyHead, createModel, formatList } from '@cxr/models';
import type { TrainConfig } from '../config/trainConfig.ts';
import { checkImageSize } from '../config/validateTrainConfig.ts';
import { evaluatePredictions, type ClassificationMetrics } from '../metrics/classificationMetrics.ts';
import { readJsonFile, runFiles } from '../run/runFolder.ts';
import { writeJsonAtomic } from '../run/atomicWrite.ts';
import { checkClassNames, readModelInfo } from '../run/modelInfo.ts';
import type { RunMetrics } from '../run/runMetrics.ts';
import { fileEpoch, loadModelFile } from '../train/checkpoint.ts';
import { predictAll } from '../train/steps.ts';
import { metricsTable } from '../report/runReport.ts';
import { intervalsTable } from '../report/evidenceReport.ts';
import { metricIntervals } from '../metrics/metricIntervals.ts';
import { applyDecisionRule, readDecisionRule } from '../run/decisionRule.ts';
import { Command } from 'commander';
import { intOption } from './intOption.ts';

export interface EvalOptions {
  run?: string;
  weights?: string;
  arch?: string;
  head?: string;
  data?: string;
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
}

/**
 * Settings of a finished run folder, or those given on the command line with what the weights
 * file records (classes, input size, architecture) filling the gaps. A flag that contradicts the
 * file's record is refused rather than silently used.
 */
export function modelSettings(o: { run?: string; weights?: string; arch?: string; head?: string; imageSize?: number; data?: string }): ModelSettings {
  if (o.run) {
    const cfg = readJsonFile<TrainConfig>(join(o.run, runFiles.config));
    const weights = join(o.run, runFiles.model);
    if (!existsSync(weights) || !existsSync(join(o.run, runFiles.metrics))) throw new Error(`${o.run} has no finished model (${runFiles.model} and ${runFiles.metrics}): the run has not finished (resume it with cxr train --out ${o.run} --resume)`);
    const metrics = readJsonFile<RunMetrics>(join(o.run, runFiles.metrics));
    const epoch = fileEpoch(weights);
    if (epoch !== null && epoch !== metrics.bestEpoch) {
      throw new Error(`${weights} holds epoch ${epoch} but ${runFiles.metrics} reports best epoch ${metrics.bestEpoch} (an interrupted run?); resume it with cxr train --out ${o.run} --resume`);
    }
    const classes = readModelInfo(weights).classes ?? Object.values(metrics.splits).find((m) => m)?.classNames;
    const arch = o.arch ?? cfg.arch;
    return {
      weights, arch, head: o.head ?? cfg.head, imageSize: o.imageSize !== undefined ? checkImageSize(o.imageSize, arch) : cfg.imageSize,
      imageSizeSource: o.imageSize !== undefined ? 'flag' : 'run', data: o.data ?? cfg.data, loss: cfg.loss, classes,
    };
  }
  if (!o.weights) throw new Error('give --run DIR, or --weights FILE (with --arch and --head as trained, unless the file records them)');
  if (!existsSync(o.weights)) throw new Error(`--weights ${o.weights}: no such file`);
  const info = readModelInfo(o.weights);
  for (const [flag, given, recorded] of [['--arch', o.arch, info.arch], ['--head', o.head, info.head]] as const) {
    if (given !== undefined && recorded !== undefined && given !== recorded) throw new Error(`${flag} ${given} contradicts ${o.weights}, which was trained with ${flag} ${recorded}; drop the flag`);
  }
  const arch = o.arch ?? info.arch;
  if (!arch) throw new Error(`--arch is required: ${o.weights} does not record its architecture`);
  const imageSize = o.imageSize !== undefined ? checkImageSize(o.imageSize, arch) : info.imageSize ?? 224;
  return {
    weights: o.weights, arch, head: o.head ?? info.head ?? 'replace', imageSize,
    imageSizeSource: o.imageSize !== undefined ? 'flag' : info.imageSize !== undefined ? 'file' : 'default', data: o.data, loss: 'ce', classes: info.classes,
  };
}

/** Files of `split` that could not be used: failed the folder's header check or the decoder. */
export function skippedInSplit(root: string, split: SplitName, verified: readonly SkippedFile[], decoded: readonly SkippedFile[]): SkippedFile[] {
  const prefix = join(root, split) + '/';
  return [...verified.filter((s) => s.file.startsWith(prefix)), ...decoded];
}

export interface EvalResult extends ClassificationMetrics {
  /** Images of the split that could not be decoded and are not in the metrics. */
  skipped: SkippedFile[];
}

export async function evaluateCommand(o: EvalOptions): Promise<EvalResult> {
  const s = modelSettings(o);
  if (!s.data) throw new Error('--data DIR is required with --weights');
  if (!['train', 'val', 'test'].includes(o.split)) throw new Error(`--split ${o.split}: use train, val or test`);
  if (s.imageSizeSource === 'default') console.warn(`!! ${s.weights} does not record its input size: using 224 px; pass --image-size if it was trained at another`);
  const folder = await loadImageFolder(s.data, { onBadImage: 'skip', log: () => {}, warn: (m) => console.warn(m) });
  if (s.classes) checkClassNames(s.classes, folder.classes, { model: o.run ?? s.weights, data: `--data ${s.data}` });
  else console.warn(`!! ${s.weights} does not record its class names: assuming the data's [${folder.classes.join(', ')}] in that order`);
  const ds = folder.split(o.split as SplitName);
  if (!ds.samples.length) throw new Error(`--data ${s.data}: the ${o.split} split is empty`);
  await T.getDevice();
  const model = createModel(s.arch);
  try {
    applyHead(model, s.head, folder.classes.length);
    loadModelFile(s.weights, model);
    model.eval();
    const loader = new DataLoader(ds, { batchSize: o.batchSize ?? 16, shuffle: false, transforms: evalTransforms({ size: s.imageSize }), workers: 1, onBadImage: 'skip', warn: () => {} });
    const p = await predictAll(model, loader, s.loss, 0).finally(() => loader.close());
    const skipped = skippedInSplit(folder.root, o.split as SplitName, folder.skipped, loader.skipped);
    if (skipped.length && !o.skipBadImages) {
      throw new Error(`${skipped.length} image(s) of the ${o.split} split could not be decoded, so the metrics would silently cover ${p.labels.length} of ${p.labels.length + skipped.length} images: ${formatList(skipped.map((f) => `${f.file} (${f.reason})`), 5)}; fix them, or pass --skip-bad-images to evaluate without them (they are then listed in the result)`);
    }
    if (!p.labels.length) throw new Error(`no image of the ${o.split} split could be decoded`);
    const m: EvalResult = { ...evaluatePredictions({ probs: p.probs, labels: p.labels, classNames: folder.classes }), skipped };
    console.log(metricsTable({ [o.split]: m }));
    // The model's stored decision rule (validation threshold, temperature), as predict applies it.
    const rule = readDecisionRule(s.weights);
    const positive = Math.max(0, folder.classes.findIndex((c) => c.toLowerCase() === (rule?.positiveClass ?? m.positiveClass).toLowerCase()));
    const atThreshold = metricIntervals({ probs: applyDecisionRule(p.probs, folder.classes, rule).probs, labels: p.labels, classNames: folder.classes, positive, threshold: rule?.threshold ?? null });
    console.log(`\n${rule?.threshold != null ? `At the stored threshold p(${atThreshold.positiveClass}) >= ${rule.threshold.toFixed(4)}` : 'By the most probable class'}, with 95% intervals:\n${intervalsTable({ [o.split]: atThreshold })}`);
    if (skipped.length) console.warn(`!! ${skipped.length} image(s) skipped (not in the metrics): ${formatList(skipped.map((f) => f.file), 10)}`);
    if (o.run) writeJsonAtomic(join(o.run, `eval-${o.split}.json`), { ...m, atThreshold });
    return m;
  } finally {
    model.dispose();
  }
}

export function evalCommand(): Command {
  return new Command('eval').description('metrics of a finished run or a weights file on a split')
    .option('--run <dir>', 'run folder written by cxr train')
    .option('--weights <file>', 'model weights (.safetensors)').option('--arch <name>').option('--head <spec>')
    .option('--data <dir>').option('--split <name>', 'train, val or test', 'test').option('--image-size <n>', 'input size', intOption)
    .option('--skip-bad-images', 'evaluate the images that decode and list the others, instead of failing')
    .action(async (o) => { await evaluateCommand(o); });
}
