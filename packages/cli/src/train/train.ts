import { rmSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as T from '@cxr/tensor';
import { GradScaler, type Module } from '@cxr/nn';
import { defaultTrainConfig, type TrainConfig } from '../config/trainConfig.ts';
import { ConfigError } from '../config/configError.ts';
import { argmax, evaluatePredictions, type ClassificationMetrics } from '../metrics/classificationMetrics.ts';
import { classificationIntervals } from '../metrics/classificationIntervals.ts';
import { createEpochProgress, type EpochProgress } from '../progress/epochProgress.ts';
import { formatEpochSummary } from '../progress/epochSummary.ts';
import { renderConfusionPng } from '../report/confusionChart.ts';
import { renderCurvesPng } from '../report/curvesChart.ts';
import { formatRunReport } from '../report/runReport.ts';
import { buildEvidence, evidenceFiles } from '../report/evidence.ts';
import { formatEvidenceReport } from '../report/evidenceReport.ts';
import { formatModelCard } from '../report/modelCard.ts';
import { auditBeforeTraining, writeAuditFile } from '../audit/trainingAudit.ts';
import { formatAuditReport } from '../audit/auditReport.ts';
import { decisionRuleOf } from '../run/decisionRule.ts';
import { linkOrCopyAtomic, writeFileAtomic } from '../run/atomicWrite.ts';
import { formatCsv } from '../run/csv.ts';
import { historyFromJson, readHistory, writeHistory, type HistoryRow } from '../run/historyCsv.ts';
import { inspectRunFolder, isRunFinished, prepareRunFolder, runFiles, RunFolderError, writeRunConfig, writeRunMetrics } from '../run/runFolder.ts';
import { lockRunFolder, type RunLock } from '../run/runLock.ts';
import { classWeightsFor } from '../metrics/classWeights.ts';
import { isImprovement, selectionScore, shouldStopEarly } from '../metrics/modelSelection.ts';
import { resolvePositiveClass } from '../metrics/positiveClass.ts';
import type { RunMetrics, SplitName } from '../run/runMetrics.ts';
import { buildModel, buildOptimizer, buildScheduler, setTrainMode } from './build.ts';
import { checkpointFiles, checkpointSplits, fileEpoch, hasCheckpoint, loadCheckpoint, loadModelFile, saveCheckpoint, saveModel } from './checkpoint.ts';
import {
  badImagesError,
  ensureSyntheticData,
  evaluationImages,
  makeLoaders,
  openDataset,
  skippedBySplit,
  startTrainingDecoders,
  trainingImageCache,
} from './data.ts';
import { loaderWorkers } from './loaderWorkers.ts';
import { architectures, defaultCamLayer, encodeDecisionRule } from '@cxr/models';
import { modelInfoFor, removeCheckpoints } from './modelFile.ts';
import { accuracyOf, predictAll, submitTrainStep, type Predictions } from './steps.ts';
import { splitChanges, splitFingerprint } from './splitFingerprint.ts';
import { oneInFlight } from './stepsInFlight.ts';

export interface TrainOptions {
  /** The embedded default run: synthesise data if absent, tolerate missing ImageNet weights. */
  isDefaultRun?: boolean;
  log?: (m: string) => void;
}

export interface TrainResult {
  dir: string;
  metrics: RunMetrics;
}

function metricsFor(p: Predictions, classes: string[], positive: string | null): ClassificationMetrics {
  return evaluatePredictions({ probs: p.probs, labels: p.labels, classNames: classes }, { positiveClass: positive ?? undefined });
}

/**
 * `cxr train`: fine-tunes, checkpoints every epoch (model, optimizer, schedule and generator
 * state; trainer.json last), keeps the best epoch by --select-by (stopping early after --patience
 * epochs without improvement), then evaluates it on every split and writes the pictures,
 * report.md, a model.safetensors that carries its own inference metadata, and finally
 * metrics.json (the finished marker). The resume-only checkpoints are then deleted unless
 * --keep-checkpoints.
 */
export async function train(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const log = options.log ?? ((m: string) => console.log(m));
  const started = performance.now();
  const minSize = architectures[config.arch]?.minImageSize ?? 32;
  if (config.imageSize < minSize) throw new Error(`--image-size ${config.imageSize} is too small for ${config.arch}: use at least ${minSize}`);
  const dir = config.out;
  // Every input is checked before the run folder is touched: a mistyped --data must never cost
  // the contents of --out.
  inspectRunFolder(dir, { resume: config.resume, force: config.force });
  if (config.resume && isRunFinished(dir) && !hasCheckpoint(dir)) {
    const classes = config.classes ? ` --classes ${config.classes}` : '';
    throw new RunFolderError(
      `${dir} is a finished run whose checkpoints were deleted after it succeeded (keep them with --keep-checkpoints); train on in a new run: cxr train --data ${config.data}${classes} --arch ${config.arch} --head ${config.head} --image-size ${config.imageSize} --weights ${join(dir, runFiles.model)} --out NEW_DIR`,
    );
  }
  if (options.isDefaultRun) await ensureSyntheticData(config.data, log);
  const folder = await openDataset(config, log, (m) => console.warn(m));
  // Before the audit (minutes on a real collection) and before anything is written.
  const dataSplits = splitFingerprint(folder, config.data);
  const recordedSplits = config.resume ? checkpointSplits(dir) : undefined;
  const splitsChanged = recordedSplits && splitChanges(recordedSplits, dataSplits);
  if (splitsChanged)
    throw new RunFolderError(
      `${config.data} is not the data ${dir} trained on (${splitsChanged}): the splits would be drawn anew and trained images could be validated or tested on; restore the data, or start over with --force`,
    );
  // A threshold is a cut-off on p(positive), which only a two-class model has: refused before the
  // audit and training, not dropped from the report after them. A run started before this check
  // may record one: it resumes, and the most probable class decides.
  if (folder.classes.length > 2 && config.threshold !== defaultTrainConfig.threshold) {
    if (!config.resume)
      throw new ConfigError(
        `--threshold ${config.threshold} applies to two classes, but the data has ${folder.classes.length} (${folder.classes.join(', ')}); drop --threshold (the most probable class decides)`,
      );
    console.warn(`--threshold ${config.threshold} (recorded by this run) does not apply to ${folder.classes.length} classes: the most probable class decides`);
  }
  // Decided before the audit (minutes on a real collection) and before anything is written: a run
  // that cannot say which class is positive stops here.
  const positive = resolvePositiveClass(folder.classes, config.positive || undefined);
  // The adapter decides how many threads decode images (--workers auto), so it comes first; the
  // decoding threads then boot while the audit reads the images, and the audit, which decodes
  // every image anyway, fills the training pass's image cache and prepares the evaluation images:
  // epoch 1 and the evaluation passes do not decode them again.
  const gpu = await T.getDevice();
  if (config.precision === 'f16' && !gpu.device.features.has('shader-f16'))
    throw new ConfigError(
      config.resume
        ? `${dir} trains with --precision f16, which needs an adapter with the shader-f16 feature, and ${gpu.adapterName} has none; resume it where that adapter is, or start a new run with --precision f32`
        : `--precision f16 needs an adapter with the shader-f16 feature, and ${gpu.adapterName} has none; train with --precision f32`,
    );
  const workers = loaderWorkers(config.workers, gpu.isCpuAdapter);
  const trainingPool = startTrainingDecoders(workers);
  const imageCache = trainingImageCache(folder, config, log);
  const { audit, prepared } = await auditBeforeTraining(folder, {
    seed: config.seed,
    dedupe: config.dedupe,
    imageCache,
    prepare: evaluationImages(folder, config, log),
    log,
    warn: (m) => console.warn(m),
  });
  // After the audit: --dedupe may have dropped files, and the loaders see the folder as it is now.
  const loaders = makeLoaders(folder, config, log, { workers, trainingPool, cache: imageCache?.config, prepared });
  const classes = folder.classes;
  log(
    positive
      ? `positive class (sensitivity, specificity, F1, AUC): ${positive}`
      : `${classes.length} classes: per-class and macro metrics, one-vs-rest AUC (--positive CLASS adds binary numbers for one class)`,
  );
  const trainCounts = classes.map((_, i) => folder.splits.train.filter((x) => x.label === i).length);
  const weights = classWeightsFor(config.classWeights, trainCounts, classes);
  if (weights && config.loss !== 'ce')
    throw new Error(`--class-weights ${config.classWeights} weights the cross-entropy; use it with --loss ce (not ${config.loss})`);
  if (weights) log(`class weights (${config.classWeights}): ${classes.map((c, i) => `${c} ${weights[i].toFixed(3)}`).join(', ')}`);
  if (config.balanced) log('class-balanced sampling of the training set (--balanced)');
  let lock: RunLock | null = null;
  let bar: EpochProgress | null = null;
  let model: Module | null = null;
  let classWeight: T.Tensor | null = null;
  // Ctrl-C / kill: the bar gives the cursor back and the lock goes, then the process ends as a
  // signal would have ended it; the last complete checkpoint is where --resume continues.
  const onSignal = (signal: NodeJS.Signals) => {
    bar?.stop();
    lock?.release();
    // Synchronous: console.error to a pipe is asynchronous and process.exit would drop the line.
    writeSync(2, `cxr: interrupted (${signal}); continue with: cxr train --out ${dir} --resume\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log(`adapter: ${gpu.adapterName}; images decoded by ${workers ? `${workers} worker thread${workers === 1 ? '' : 's'}` : 'the main thread'}`);
    const generator = new T.Generator(config.seed);
    T.manualSeed(config.seed);
    // Only a checkpoint replaces the initial weights: a run interrupted before its first one starts
    // from the initialisation a fresh run of its config gets (not from undrawn, all-zero tensors).
    const fromCheckpoint = config.resume && hasCheckpoint(dir);
    const built = await buildModel(config, classes, generator, log, { allowMissingImagenet: options.isDefaultRun, skipInitialWeights: fromCheckpoint });
    model = built.model;
    const { frozen } = built;
    let weightsUsed = built.weightsUsed;
    const trainable = model
      .parameters()
      .filter((p) => p.requiresGrad)
      .reduce((n, p) => n + p.size, 0);
    log(
      `model ${config.arch}, weights: ${weightsUsed}, head ${config.head}, ${frozen.length} frozen tensors, ${trainable.toLocaleString('en')} trainable parameters`,
    );
    const info = modelInfoFor(config, classes, positive);
    if (weights) classWeight = T.tensor(Float32Array.from(weights), [classes.length]);
    const optimizer = buildOptimizer(config, model);
    const scheduler = buildScheduler(config, optimizer);
    const scaler = config.precision === 'f16' ? new GradScaler() : null;
    if (scaler) log(`mixed precision (--precision f16): float16 activations, float32 master weights, loss scale ${scaler.scaleValue}`);

    lock = lockRunFolder(dir, log);
    const state = prepareRunFolder(dir, { resume: config.resume, force: config.force });
    if (state === 'resume' && fromCheckpoint !== hasCheckpoint(dir))
      throw new RunFolderError(`${dir} changed while this run was starting (its checkpoint appeared or went); run the command again`);
    let history: HistoryRow[] = [];
    let startEpoch = 0;
    let bestValAccuracy = -1;
    let bestScore: number | null = null;
    let bestEpoch = 0;
    if (state === 'resume' && fromCheckpoint) {
      const s = await loadCheckpoint(dir, model, optimizer, log);
      if (s.weightsUsed) weightsUsed = s.weightsUsed;
      startEpoch = s.epoch;
      bestValAccuracy = s.bestValAccuracy;
      bestScore = s.bestScore ?? (config.selectBy === 'val-accuracy' ? s.bestValAccuracy : null);
      bestEpoch = s.bestEpoch;
      generator.state = s.generator;
      if (scheduler && s.scheduler) scheduler.loadStateDict(s.scheduler);
      if (scaler && s.gradScaler) scaler.loadStateDict(s.gradScaler);
      if (startEpoch > config.epochs)
        throw new RunFolderError(
          `${dir} has already trained ${startEpoch} epochs; --epochs ${config.epochs} cannot shorten it (give --epochs ${startEpoch} or more)`,
        );
      repairBestCheckpoint(dir, bestEpoch, startEpoch, log);
      // The checkpoint's own rows win: history.csv may have a row it lacks (killed before the
      // set was complete) or lack one it has (runs from before the rows were kept in it).
      history = s.history ? historyFromJson(s.history) : readHistory(dir).filter((r) => r.epoch <= startEpoch);
      writeHistory(dir, history);
      // Training on makes the old results stale: the run is unfinished until they are rewritten.
      if (startEpoch < config.epochs) rmSync(join(dir, runFiles.metrics), { force: true });
      log(`resuming ${dir} after epoch ${startEpoch}${startEpoch < config.epochs ? ` (of ${config.epochs})` : ''}`);
    } else if (state === 'resume') {
      // Killed before its first checkpoint: nothing trained is kept, and neither is a history row
      // written ahead of the checkpoint that never came.
      writeHistory(dir, history);
      log(`no checkpoint yet: starting from epoch 1 (weights: ${weightsUsed})`);
    }
    writeRunConfig(dir, { ...config, resume: false, force: false });
    writeAuditFile(dir, audit);

    let epochsRun = startEpoch;
    let stoppedEarly = startEpoch > 0 && shouldStopEarly(startEpoch, bestEpoch, config.patience);
    for (let epoch = startEpoch; epoch < config.epochs && !stoppedEarly; epoch++) {
      const t0 = performance.now();
      setTrainMode(model);
      const total = loaders.train.opts.dropLast ? loaders.train.length * loaders.train.opts.batchSize : loaders.train.dataset.samples.length;
      bar = createEpochProgress({ epoch: epoch + 1, epochs: config.epochs, total, phase: 'train' });
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let skippedSteps = 0;
      let steps = 0;
      await oneInFlight(
        loaders.train.epoch(epoch),
        async (batch) => {
          // Batch norm cannot train on one image (skipped files can leave one); PyTorch users drop it too.
          if (batch.labels.length === 1 && config.batchSize > 1) {
            log(`epoch ${epoch + 1}: skipped a batch of one image (${batch.files[0]}): batch norm needs two`);
            return null;
          }
          return submitTrainStep(built.model, optimizer, config.loss, batch, classWeight, scaler);
        },
        (r, _batch, batchIndex) => {
          steps++;
          if (r.skipped) skippedSteps++;
          if (!(Math.abs(r.loss) <= divergedLoss))
            throw divergence(
              `the training loss is ${r.loss} at epoch ${epoch + 1}, batch ${batchIndex}${Number.isFinite(r.loss) ? ` (above ${divergedLoss}: the weights are blowing up)` : ''}`,
              config.lr,
            );
          lossSum += r.loss * r.count;
          correct += r.correct;
          seen += r.count;
          bar?.update(seen, { loss: lossSum / seen, accuracy: correct / seen });
        },
      );
      bar.stop();
      bar = null;
      if (skippedSteps)
        log(
          `epoch ${epoch + 1}: ${skippedSteps} of ${steps} steps skipped by the loss scaler (Inf/NaN float16 gradients); loss scale now ${scaler?.scaleValue}`,
        );
      model.eval();
      const val = await predictAll(model, loaders.val, config.loss, 0, undefined, classWeight);
      if (loaders.val.skipped.length && !config.skipBadImages) throw badImagesError(loaders.val.skipped, 'validation');
      if (!val.labels.length)
        throw new Error(
          `no validation image could be decoded at epoch ${epoch + 1} (${loaders.val.skipped.length} skipped); the run stops here: fix or replace the files listed above`,
        );
      assertFiniteOutputs(val, `validation after epoch ${epoch + 1}`, config.lr);
      const row: HistoryRow = {
        epoch: epoch + 1,
        trainLoss: lossSum / seen,
        trainAccuracy: correct / seen,
        valLoss: val.loss,
        valAccuracy: accuracyOf(val),
        lr: optimizer.paramGroups[0].lr,
        seconds: (performance.now() - t0) / 1000,
      };
      const vm = metricsFor(val, classes, positive);
      const score = selectionScore(config.selectBy, {
        valLoss: row.valLoss,
        valAccuracy: row.valAccuracy,
        valF1: positive ? vm.f1 : vm.macroF1,
        valAuc: vm.auc,
      });
      const isBest = isImprovement(score, bestScore);
      if (isBest) {
        bestScore = score;
        bestValAccuracy = row.valAccuracy;
        bestEpoch = epoch + 1;
      }
      epochsRun = epoch + 1;
      scheduler?.step();
      // history.csv first, the checkpoint (which holds the same rows) after: a kill in between
      // leaves a row the resume drops with the checkpoint it belongs to, never a lost row.
      history = [...history.filter((r) => r.epoch !== row.epoch), row];
      writeHistory(dir, history);
      await saveCheckpoint(
        dir,
        model,
        optimizer,
        {
          epoch: epoch + 1,
          bestValAccuracy,
          bestScore,
          bestEpoch,
          generator: generator.state,
          scheduler: scheduler ? scheduler.stateDict() : null,
          gradScaler: scaler ? scaler.stateDict() : null,
          history,
          splits: dataSplits,
          weightsUsed,
        },
        info,
      );
      // After the set: a kill before this line is repaired on resume from last.safetensors.
      // The same bytes as the checkpoint's model file, written just above: linked, not read back again.
      if (isBest) linkOrCopyAtomic(join(dir, checkpointFiles.last), join(dir, checkpointFiles.best));
      log(formatEpochSummary(row, config.epochs, isBest));
      // Crash injection for the resume tests: a real SIGKILL at a known point, not a timed race.
      if (process.env.CXR_KILL_AFTER_EPOCH === String(epoch + 1)) process.kill(process.pid, 'SIGKILL');
      if (shouldStopEarly(epoch + 1, bestEpoch, config.patience) && epoch + 1 < config.epochs) {
        stoppedEarly = true;
        log(`stopping early: ${config.selectBy} has not improved for ${config.patience} epoch(s) since epoch ${bestEpoch} (--patience ${config.patience})`);
      }
    }

    // Evaluate the kept (best) weights on every split.
    await loadModelFile(join(dir, checkpointFiles.best), model);
    model.eval();
    const preds: Partial<Record<SplitName, Predictions>> = {
      train: await predictAll(model, loaders.trainEval, config.loss, 0, undefined, classWeight),
      val: await predictAll(model, loaders.val, config.loss, 0, undefined, classWeight),
    };
    if (loaders.test) preds.test = await predictAll(model, loaders.test, config.loss, 0, undefined, classWeight);
    if (loaders.test?.skipped.length && !config.skipBadImages) throw badImagesError(loaders.test.skipped, 'test');
    const skipped = skippedBySplit(folder, [
      { split: 'train', files: [...loaders.train.skipped, ...loaders.trainEval.skipped] },
      { split: 'val', files: loaders.val.skipped },
      { split: 'test', files: loaders.test?.skipped ?? [] },
    ]);
    const splits: RunMetrics['splits'] = {};
    const intervalsStart = performance.now();
    for (const [s, p] of Object.entries(preds) as [SplitName, Predictions][]) {
      const m = metricsFor(p, classes, positive);
      splits[s] = { ...m, ci: classificationIntervals({ probs: p.probs, labels: p.labels, classNames: classes }, m, { seed: config.seed }) };
    }
    log(`95% intervals of the most-probable-class metrics in ${((performance.now() - intervalsStart) / 1000).toFixed(1)} s`);
    const finalSplit: SplitName = preds.test ? 'test' : 'val';
    writeFileAtomic(join(dir, runFiles.curves), await renderCurvesPng(history, `${config.arch} ${config.head}: accuracy and loss per epoch`));
    writeFileAtomic(join(dir, runFiles.confusion), await renderConfusionPng(splits[finalSplit]!.confusion, `Confusion matrix (${finalSplit})`));
    const evidenceStart = performance.now();
    const evidence = await buildEvidence({
      dir,
      classNames: classes,
      positiveClass: positive ?? undefined,
      val: preds.val!,
      splits: preds as Record<string, Predictions>,
      finalSplit,
      threshold: config.threshold,
      calibrate: config.calibrate,
      model,
      camLayer: defaultCamLayer(model),
      imageSize: config.imageSize,
      seed: config.seed,
      samplesTitle: `Sample predictions (${finalSplit})`,
    });
    log(`evidence (intervals, threshold, calibration, ROC/PR, Grad-CAM samples) in ${((performance.now() - evidenceStart) / 1000).toFixed(1)} s`);
    const predictionRows = (Object.entries(preds) as [SplitName, Predictions][]).flatMap(([s, p]) =>
      p.files.map((f, i) => [s, f, classes[p.labels[i]], classes[argmax(p.probs[i])], ...Array.from(p.probs[i], (v) => v.toFixed(6))]),
    );
    writeFileAtomic(join(dir, runFiles.predictions), formatCsv(['split', 'file', 'label', 'predicted', ...classes.map((c) => `p_${c}`)], predictionRows));
    await saveModel(join(dir, runFiles.model), model, bestEpoch, info, encodeDecisionRule(decisionRuleOf(evidence)));
    const metrics: RunMetrics = {
      version: 1,
      bestEpoch,
      epochs: config.epochs,
      epochsRun,
      stoppedEarly,
      patience: config.patience,
      selectBy: config.selectBy,
      positiveClass: positive,
      classes,
      seconds: (performance.now() - started) / 1000,
      splits,
      ...(Object.keys(skipped).length ? { skipped } : {}),
      weightsUsed,
      evidence,
    };
    writeFileAtomic(
      join(dir, runFiles.report),
      formatRunReport({
        title: `Run ${basename(dir)}`,
        metrics,
        settings: {
          arch: config.arch,
          weights: weightsUsed,
          head: config.head,
          freeze: config.freeze,
          optimizer: config.optimizer,
          lr: config.lr,
          epochs: config.epochs,
          'batch size': config.batchSize,
          'image size': config.imageSize,
          loss: config.loss,
          'class weights': config.classWeights,
          'balanced sampling': config.balanced,
          augment: config.augment,
          seed: config.seed,
          data: config.data,
          manifest: config.manifest || undefined,
          classes: classes.join(', '),
          'positive class': positive ?? 'none',
          'select by': config.selectBy,
          patience: config.patience || undefined,
          adapter: gpu.adapterName,
        },
      }) +
        '\n' +
        formatEvidenceReport(evidence) +
        '\n' +
        formatAuditReport(audit),
    );
    writeRunMetrics(dir, metrics);
    writeFileAtomic(join(dir, evidenceFiles.modelCard), formatModelCard(dir));
    if (!config.keepCheckpoints) {
      const removed = removeCheckpoints(dir, Object.values(checkpointFiles));
      if (removed.length)
        log(`removed the resume checkpoints (${removed.join(', ')}); model.safetensors is the selected epoch ${bestEpoch} (--keep-checkpoints keeps them)`);
    }
    const m = splits[finalSplit]!;
    log(
      `${finalSplit}: accuracy ${(m.accuracy * 100).toFixed(1)}%, F1 ${m.f1.toFixed(3)}, AUC ${m.auc === null ? 'n/a' : m.auc.toFixed(3)} (${classes.join(' vs ')}); best epoch ${bestEpoch}`,
    );
    log(
      `wrote ${dir}/{report.md, metrics.json, MODEL_CARD.md, audit.json, history.csv, curves.png, confusion.png, samples.png, roc.png, pr.png, calibration.png, model.safetensors}`,
    );
    optimizer.zeroGrad();
    return { dir, metrics };
  } finally {
    bar?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    model?.dispose();
    classWeight?.dispose();
    await Promise.all([loaders.train, loaders.trainEval, loaders.val, loaders.test].map((l) => l?.close()));
    lock?.release();
  }
}

/**
 * A training loss no healthy run reaches: cross-entropy of 1e4 puts e^-10000 on the right class.
 * A run at --lr 10 passes it within one epoch while every number stays finite and the report
 * says "accuracy 50%, AUC 0.500"; stopping is the honest result. (Validation loss is not held to
 * it: with tiny batches, batch norm's running statistics alone can put it at 1e9 in a healthy run.)
 */
const divergedLoss = 1e4;

function divergence(what: string, lr: number): Error {
  return new Error(`training diverged: ${what}; lower the learning rate (--lr ${lr}, try ${lr / 10})`);
}

/** NaN/Inf logits mean the parameters went non-finite (ReLU and argmax must not hide that). */
function assertFiniteOutputs(p: Predictions, where: string, lr: number): void {
  const row = p.logits.findIndex((l) => l.some((v) => !Number.isFinite(v)));
  if (row >= 0)
    throw divergence(
      `the model's outputs are non-finite in the ${where} (${p.files[row]}: ${Array.from(p.logits[row]).join(', ')}): its parameters are no longer numbers`,
      lr,
    );
}

/**
 * best.safetensors is written after the checkpoint set; a kill in between leaves an older best
 * while trainer.json already names the new epoch, whose weights are then last.safetensors.
 */
function repairBestCheckpoint(dir: string, bestEpoch: number, lastEpoch: number, log: (m: string) => void): void {
  const best = join(dir, checkpointFiles.best);
  if (fileEpoch(best) === bestEpoch) return;
  if (bestEpoch === lastEpoch) {
    linkOrCopyAtomic(join(dir, checkpointFiles.last), best);
    log(`${best} was older than its epoch ${bestEpoch} (an interrupted save); restored it from ${checkpointFiles.last}`);
    return;
  }
  throw new RunFolderError(
    `${best} holds epoch ${fileEpoch(best) ?? 'unknown'} but the checkpoint says the best epoch is ${bestEpoch}; the run cannot be resumed faithfully: start over with --force`,
  );
}
