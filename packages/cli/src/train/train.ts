import { basename, join } from 'node:path';
import * as T from '@cxr/tensor';
import type { TrainConfig } from '../config/trainConfig.ts';
import { argmax, evaluatePredictions, type ClassificationMetrics } from '../metrics/classificationMetrics.ts';
import { createEpochProgress } from '../progress/epochProgress.ts';
import { formatEpochSummary } from '../progress/epochSummary.ts';
import { renderConfusionPng } from '../report/confusionChart.ts';
import { renderCurvesPng } from '../report/curvesChart.ts';
import { formatRunReport } from '../report/runReport.ts';
import { buildEvidence, evidenceFiles } from '../report/evidence.ts';
import { formatEvidenceReport } from '../report/evidenceReport.ts';
import { formatModelCard } from '../report/modelCard.ts';
import { auditBeforeTraining, auditFile } from '../audit/trainingAudit.ts';
import { formatAuditReport } from '../audit/auditReport.ts';
import { decisionMetadata, decisionRuleOf } from '../run/decisionRule.ts';
import { writeFileAtomic } from '../run/atomicWrite.ts';
import { appendHistory, readHistory, truncateHistory, type HistoryRow } from '../run/historyCsv.ts';
import { prepareRunFolder, readJsonFile, runFiles, writeRunConfig, writeRunMetrics } from '../run/runFolder.ts';
import type { RunMetrics, SplitName } from '../run/runMetrics.ts';
import { buildModel, buildOptimizer, buildScheduler, setTrainMode } from './build.ts';
import { checkpointFiles, hasCheckpoint, loadCheckpoint, loadModelFile, saveCheckpoint, saveModel } from './checkpoint.ts';
import { ensureSyntheticData, makeLoaders, openDataset } from './data.ts';
import { architectures, defaultCamLayer } from '@cxr/models';
import { accuracyOf, predictAll, trainStep, type Predictions } from './steps.ts';

export interface TrainOptions {
  /** The embedded default run: synthesise data if absent, tolerate missing ImageNet weights. */
  isDefaultRun?: boolean;
  log?: (m: string) => void;
}

export interface TrainResult { dir: string; metrics: RunMetrics }

function metricsFor(p: Predictions, classes: string[]): ClassificationMetrics {
  return evaluatePredictions({ probs: p.probs, labels: p.labels, classNames: classes });
}

/**
 * `cxr train`: fine-tunes, checkpoints every epoch (model, optimizer, schedule and generator
 * state; trainer.json last), keeps the best epoch by validation accuracy, then evaluates it on
 * every split and writes the pictures, report.md and finally metrics.json (the finished marker).
 */
export async function train(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const log = options.log ?? ((m: string) => console.log(m));
  const started = performance.now();
  const minSize = architectures[config.arch]?.minImageSize ?? 32;
  if (config.imageSize < minSize) throw new Error(`--image-size ${config.imageSize} is too small for ${config.arch}: use at least ${minSize}`);
  const dir = config.out;
  const state = prepareRunFolder(dir, { resume: config.resume, force: config.force });
  if (options.isDefaultRun) await ensureSyntheticData(config.data, log);
  const folder = await openDataset(config, log, (m) => console.warn(m));
  await auditBeforeTraining(folder, { dir, seed: config.seed, dedupe: config.dedupe, log, warn: (m) => console.warn(m) });
  const classes = folder.classes;
  const loaders = makeLoaders(folder, config);

  const gpu = await T.getDevice();
  log(`adapter: ${gpu.adapterName}`);
  const generator = new T.Generator(config.seed);
  T.manualSeed(config.seed);
  const { model, weightsUsed, frozen } = buildModel(config, classes.length, generator, log, { allowMissingImagenet: options.isDefaultRun });
  const trainable = model.parameters().filter((p) => p.requiresGrad).reduce((n, p) => n + p.size, 0);
  log(`model ${config.arch}, weights: ${weightsUsed}, head ${config.head}, ${frozen.length} frozen tensors, ${trainable.toLocaleString('en')} trainable parameters`);
  const optimizer = buildOptimizer(config, model);
  const scheduler = buildScheduler(config, optimizer);

  let startEpoch = 0;
  let bestValAccuracy = -1;
  let bestEpoch = 0;
  if (state === 'resume' && hasCheckpoint(dir)) {
    const s = loadCheckpoint(dir, model, optimizer);
    startEpoch = s.epoch;
    bestValAccuracy = s.bestValAccuracy;
    bestEpoch = s.bestEpoch;
    generator.state = s.generator;
    if (scheduler && s.scheduler) scheduler.loadStateDict(s.scheduler);
    truncateHistory(dir, startEpoch);
    log(`resuming ${dir} after epoch ${startEpoch}`);
  } else {
    writeRunConfig(dir, { ...config, resume: false, force: false });
  }

  for (let epoch = startEpoch; epoch < config.epochs; epoch++) {
    const t0 = performance.now();
    setTrainMode(model);
    const total = loaders.train.dataset.samples.length;
    const bar = createEpochProgress({ epoch: epoch + 1, epochs: config.epochs, total, phase: 'train' });
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    for await (const batch of loaders.train.epoch(epoch)) {
      const r = await trainStep(model, optimizer, config.loss, batch);
      lossSum += r.loss * r.count;
      correct += r.correct;
      seen += r.count;
      if (!Number.isFinite(r.loss)) { bar.stop(); throw new Error(`training diverged at epoch ${epoch + 1}: loss is ${r.loss}; lower --lr (now ${config.lr})`); }
      bar.update(seen, { loss: lossSum / seen, accuracy: correct / seen });
    }
    bar.stop();
    model.eval();
    const val = await predictAll(model, loaders.val, config.loss, 0);
    const row: HistoryRow = {
      epoch: epoch + 1, trainLoss: lossSum / seen, trainAccuracy: correct / seen, valLoss: val.loss, valAccuracy: accuracyOf(val),
      lr: optimizer.paramGroups[0].lr, seconds: (performance.now() - t0) / 1000,
    };
    const isBest = row.valAccuracy > bestValAccuracy;
    if (isBest) {
      bestValAccuracy = row.valAccuracy;
      bestEpoch = epoch + 1;
      await saveModel(join(dir, checkpointFiles.best), model, { format: 'cxr', epoch: String(epoch + 1) });
    }
    appendHistory(dir, row);
    log(formatEpochSummary(row, config.epochs, isBest));
    scheduler?.step();
    await saveCheckpoint(dir, model, optimizer, {
      epoch: epoch + 1, bestValAccuracy, bestEpoch, generator: generator.state, scheduler: scheduler ? scheduler.stateDict() : null,
    });
    // Crash injection for the resume test: a real SIGKILL at a known point, not a timed race.
    if (process.env.CXR_KILL_AFTER_EPOCH === String(epoch + 1)) process.kill(process.pid, 'SIGKILL');
  }

  // Evaluate the kept (best) weights on every split.
  loadModelFile(join(dir, checkpointFiles.best), model);
  model.eval();
  const preds: Partial<Record<SplitName, Predictions>> = {
    train: await predictAll(model, loaders.trainEval, config.loss, 0),
    val: await predictAll(model, loaders.val, config.loss, 0),
  };
  if (loaders.test) preds.test = await predictAll(model, loaders.test, config.loss, 0);
  const splits: RunMetrics['splits'] = {};
  for (const [s, p] of Object.entries(preds) as [SplitName, Predictions][]) splits[s] = metricsFor(p, classes);
  const history = readHistory(dir);
  const finalSplit: SplitName = preds.test ? 'test' : 'val';
  const fp = preds[finalSplit]!;
  writeFileAtomic(join(dir, runFiles.curves), await renderCurvesPng(history, `${config.arch} ${config.head}: accuracy and loss per epoch`));
  writeFileAtomic(join(dir, runFiles.confusion), await renderConfusionPng(splits[finalSplit]!.confusion, `Confusion matrix (${finalSplit})`));
  const evidenceStart = performance.now();
  const evidence = await buildEvidence({ dir, classNames: classes, val: preds.val!, splits: preds as Record<string, Predictions>, finalSplit, threshold: config.threshold, calibrate: config.calibrate, model, camLayer: defaultCamLayer(model), imageSize: config.imageSize, seed: config.seed, samplesTitle: `Sample predictions (${finalSplit})` });
  log(`evidence (intervals, threshold, calibration, ROC/PR, Grad-CAM samples) in ${((performance.now() - evidenceStart) / 1000).toFixed(1)} s`);
  writeFileAtomic(join(dir, 'predictions.csv'), ['split,file,label,predicted,' + classes.map((c) => `p_${c}`).join(',')]
    .concat(...(Object.entries(preds) as [SplitName, Predictions][]).map(([s, p]) => p.files.map((f, i) => {
      const row = p.probs[i];
      const pred = argmax(row);
      return `${s},${JSON.stringify(f)},${classes[p.labels[i]]},${classes[pred]},${Array.from(row, (v) => v.toFixed(6)).join(',')}`;
    }))).join('\n') + '\n');
  await saveModel(join(dir, runFiles.model), model, { format: 'cxr', epoch: String(bestEpoch), ...decisionMetadata(decisionRuleOf(evidence)) });
  const metrics: RunMetrics = { version: 1, bestEpoch, epochs: config.epochs, seconds: (performance.now() - started) / 1000, splits, evidence };
  writeFileAtomic(join(dir, runFiles.report), formatRunReport({
    title: `Run ${basename(dir)}`, metrics,
    settings: { arch: config.arch, weights: weightsUsed, head: config.head, freeze: config.freeze, optimizer: config.optimizer, lr: config.lr, epochs: config.epochs, 'batch size': config.batchSize, 'image size': config.imageSize, loss: config.loss, augment: config.augment, seed: config.seed, data: config.data, adapter: gpu.adapterName },
  }) + '\n' + formatEvidenceReport(evidence) + '\n' + formatAuditReport(readJsonFile(join(dir, auditFile))));
  writeRunMetrics(dir, metrics);
  writeFileAtomic(join(dir, evidenceFiles.modelCard), formatModelCard(dir));
  const m = splits[finalSplit]!;
  log(`${finalSplit}: accuracy ${(m.accuracy * 100).toFixed(1)}%, F1 ${m.f1.toFixed(3)}, AUC ${m.auc === null ? 'n/a' : m.auc.toFixed(3)} (${classes.join(' vs ')}); best epoch ${bestEpoch}`);
  log(`wrote ${dir}/{report.md, metrics.json, MODEL_CARD.md, audit.json, history.csv, curves.png, confusion.png, samples.png, roc.png, pr.png, calibration.png, model.safetensors}`);
  model.dispose();
  optimizer.zeroGrad();
  await Promise.all([loaders.train, loaders.trainEval, loaders.val, loaders.test].map((l) => l?.close()));
  return { dir, metrics };
}
