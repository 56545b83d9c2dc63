import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '@cxr/tensor';
import { DataLoader, evalTransforms, loadImageFolder, type SplitName } from '@cxr/data';
import { applyHead, createModel } from '@cxr/models';
import type { TrainConfig } from '../config/trainConfig.ts';
import { evaluatePredictions, type ClassificationMetrics } from '../metrics/classificationMetrics.ts';
import { readJsonFile, runFiles } from '../run/runFolder.ts';
import { writeJsonAtomic } from '../run/atomicWrite.ts';
import { loadModelFile } from '../train/checkpoint.ts';
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
}

/** Settings of a finished run folder, or those given on the command line. */
export function modelSettings(o: { run?: string; weights?: string; arch?: string; head?: string; imageSize?: number; data?: string }): { weights: string; arch: string; head: string; imageSize: number; data?: string; loss: TrainConfig['loss'] } {
  if (o.run) {
    const cfg = readJsonFile<TrainConfig>(join(o.run, runFiles.config));
    const weights = join(o.run, runFiles.model);
    if (!existsSync(weights)) throw new Error(`${o.run} has no ${runFiles.model}: the run has not finished (resume it with cxr train --out ${o.run} --resume)`);
    return { weights, arch: o.arch ?? cfg.arch, head: o.head ?? cfg.head, imageSize: o.imageSize ?? cfg.imageSize, data: o.data ?? cfg.data, loss: cfg.loss };
  }
  if (!o.weights || !o.arch) throw new Error('give --run DIR, or --weights FILE with --arch (and --head as trained)');
  if (!existsSync(o.weights)) throw new Error(`--weights ${o.weights}: no such file`);
  return { weights: o.weights, arch: o.arch, head: o.head ?? 'replace', imageSize: o.imageSize ?? 224, data: o.data, loss: 'ce' };
}

export async function evaluateCommand(o: EvalOptions): Promise<ClassificationMetrics> {
  const s = modelSettings(o);
  if (!s.data) throw new Error('--data DIR is required with --weights');
  if (!['train', 'val', 'test'].includes(o.split)) throw new Error(`--split ${o.split}: use train, val or test`);
  const folder = await loadImageFolder(s.data, { onBadImage: 'skip', log: () => {} });
  const ds = folder.split(o.split as SplitName);
  if (!ds.samples.length) throw new Error(`--data ${s.data}: the ${o.split} split is empty`);
  await T.getDevice();
  const model = createModel(s.arch);
  applyHead(model, s.head, folder.classes.length);
  loadModelFile(s.weights, model);
  model.eval();
  const loader = new DataLoader(ds, { batchSize: o.batchSize ?? 16, shuffle: false, transforms: evalTransforms({ size: s.imageSize }), workers: 1, onBadImage: 'skip' });
  const p = await predictAll(model, loader, s.loss, 0).finally(() => loader.close());
  const m = evaluatePredictions({ probs: p.probs, labels: p.labels, classNames: folder.classes });
  console.log(metricsTable({ [o.split]: m }));
  // The model's stored decision rule (validation threshold, temperature), as predict applies it.
  const rule = readDecisionRule(s.weights);
  const positive = Math.max(0, folder.classes.findIndex((c) => c.toLowerCase() === (rule?.positiveClass ?? m.positiveClass).toLowerCase()));
  const atThreshold = metricIntervals({ probs: applyDecisionRule(p.probs, folder.classes, rule).probs, labels: p.labels, classNames: folder.classes, positive, threshold: rule?.threshold ?? null });
  console.log(`\n${rule?.threshold != null ? `At the stored threshold p(${atThreshold.positiveClass}) >= ${rule.threshold.toFixed(4)}` : 'By the most probable class'}, with 95% intervals:\n${intervalsTable({ [o.split]: atThreshold })}`);
  if (o.run) writeJsonAtomic(join(o.run, `eval-${o.split}.json`), { ...m, atThreshold });
  model.dispose();
  return m;
}

export function evalCommand(): Command {
  return new Command('eval').description('metrics of a finished run or a weights file on a split')
    .option('--run <dir>', 'run folder written by cxr train')
    .option('--weights <file>', 'model weights (.safetensors)').option('--arch <name>').option('--head <spec>')
    .option('--data <dir>').option('--split <name>', 'train, val or test', 'test').option('--image-size <n>', 'input size', intOption)
    .action(async (o) => { await evaluateCommand(o); });
}
