import { join } from 'node:path';
import * as T from '@cxr/tensor';
import { DataLoader, evalTransforms, loadImageFolder, type Dataset, type SplitName } from '@cxr/data';
import { applyHead, createModel } from '@cxr/models';
import { Command } from 'commander';
import { ConfigError } from '../config/configError.ts';
import { resolveModelSource, type ModelSource } from '../config/modelSource.ts';
import type { TrainConfig } from '../config/trainConfig.ts';
import { evaluatePredictions, type ClassificationMetrics } from '../metrics/classificationMetrics.ts';
import { readJsonFile, runFiles } from '../run/runFolder.ts';
import { writeJsonAtomic } from '../run/atomicWrite.ts';
import { loadModelFile } from '../train/checkpoint.ts';
import { predictAll } from '../train/steps.ts';
import { metricsTable } from '../report/runReport.ts';
import { perClassTable } from '../report/perClassTable.ts';
import { helpExamples } from './helpExamples.ts';
import { intOption } from './intOption.ts';

export interface EvalOptions {
  model?: string;
  run?: string;
  weights?: string;
  arch?: string;
  head?: string;
  data?: string;
  manifest?: string;
  classes?: string;
  split: string;
  imageSize?: number;
  batchSize?: number;
}

/**
 * The data's class indices (sorted folder names) -> the model's output indices, by name (exact,
 * else case-insensitive). A class the model does not know is an error naming both lists.
 */
export function mapToModelClasses(ds: Dataset, modelClasses: readonly string[]): Dataset {
  const index = ds.classes.map((c) => {
    const i = modelClasses.indexOf(c);
    return i >= 0 ? i : modelClasses.findIndex((m) => m.toLowerCase() === c.toLowerCase());
  });
  const unknown = ds.classes.filter((_, i) => index[i] < 0);
  if (unknown.length) {
    throw new Error(`the data's class${unknown.length > 1 ? 'es' : ''} ${unknown.map((c) => `'${c}'`).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not among the model's (${modelClasses.join(', ')}); pick or rename with --classes, e.g. --classes ${ds.classes.map((c, i) => `${c}=${modelClasses[i] ?? modelClasses[0]}`).join(',')}`);
  }
  return { classes: [...modelClasses], samples: ds.samples.map((s) => ({ ...s, label: index[s.label] })) };
}

export async function evaluateCommand(o: EvalOptions): Promise<ClassificationMetrics> {
  const s: ModelSource = resolveModelSource({ model: o.model, run: o.run, weights: o.weights, arch: o.arch, head: o.head, imageSize: o.imageSize, data: o.data });
  if (!s.data) throw new ConfigError('--data DIR is required with --model or --weights');
  if (!['train', 'val', 'test'].includes(o.split)) throw new ConfigError(`--split ${o.split}: use train, val or test`);
  // A run's own dataset options reproduce its splits (seeded carving, --classes, --manifest).
  const cfg = o.run && !o.data ? readJsonFile<Partial<TrainConfig>>(join(o.run, runFiles.config)) : {};
  const folder = await loadImageFolder(s.data, {
    onBadImage: 'skip', log: () => {}, seed: cfg.seed, valFraction: cfg.valFraction,
    classes: o.classes ?? (cfg.classes || undefined), manifest: o.manifest ?? (cfg.manifest || undefined),
  });
  const ds = s.classes ? mapToModelClasses(folder.split(o.split as SplitName), s.classes) : folder.split(o.split as SplitName);
  if (!ds.samples.length) throw new Error(`--data ${s.data}: the ${o.split} split is empty`);
  await T.getDevice();
  const model = createModel(s.arch);
  applyHead(model, s.head, ds.classes.length);
  loadModelFile(s.weights, model);
  model.eval();
  const loader = new DataLoader(ds, { batchSize: o.batchSize ?? 16, shuffle: false, transforms: evalTransforms({ size: s.imageSize, resize: s.resizeSize, filter: s.filter }), workers: 1, onBadImage: 'skip' });
  const p = await predictAll(model, loader, s.loss, 0).finally(() => loader.close());
  const m = evaluatePredictions({ probs: p.probs, labels: p.labels, classNames: ds.classes }, { positiveClass: s.positiveClass ?? undefined });
  console.log(metricsTable({ [o.split]: m }));
  console.log(`\n${perClassTable(m)}`);
  if (o.run) writeJsonAtomic(join(o.run, `eval-${o.split}.json`), m);
  model.dispose();
  return m;
}

export function evalCommand(): Command {
  return new Command('eval').description('metrics of a trained model on a split of a dataset')
    .option('--model <file>', 'model.safetensors written by cxr train (carries arch, head, classes, input size)')
    .option('--run <dir>', 'run folder written by cxr train (its model, data and splits)')
    .option('--weights <file>', 'a weights file without CXR metadata (then give --arch and --head)')
    .option('--arch <name>', 'architecture, with --weights').option('--head <spec>', 'classifier head as trained, with --weights (default replace)')
    .option('--data <dir>', 'dataset root (default: the run\'s)').option('--manifest <file.csv>', 'CSV manifest under --data (path,label[,split][,group])')
    .option('--classes <list>', 'pick/rename the data\'s classes to the model\'s, e.g. COVID=infected,Normal=normal')
    .option('--split <name>', 'train, val or test', 'test').option('--image-size <n>', 'input size, with --weights (default 224)', intOption)
    .addHelpText('after', helpExamples([
      'cxr eval --run runs/vgg',
      'cxr eval --model model.safetensors --data COVID-19_Radiography_Dataset --classes COVID=infected,Normal=normal',
      'cxr eval --weights old.safetensors --arch resnet18 --head replace --data data/cxr --split val',
    ]))
    .action(async (o) => { await evaluateCommand(o); });
}
