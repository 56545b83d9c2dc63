import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '@cxr/tensor';
import { Adam, AdamW, CosineAnnealingLR, SGD, StepLR, type LRScheduler, type Module, type Optimizer } from '@cxr/nn';
import { applyFreeze, applyHead, createModel, freezeBatchNormStats, officialWeights, type Classifier } from '@cxr/models';
import { loadModelFile } from './checkpoint.ts';
import { readModelInfo } from '../run/modelInfo.ts';
import type { TrainConfig } from '../config/trainConfig.ts';
import { parseSchedule } from '../config/optionValues.ts';

/** Where `--weights imagenet` finds torchvision's file (as `cxr weights pull` caches it). */
export function imagenetWeightsPath(arch: string): string | null {
  const file = (officialWeights as Record<string, string>)[arch];
  if (!file) return null;
  const path = join(T.cacheDir(), file);
  return existsSync(path) ? path : null;
}

export interface BuiltModel {
  model: Classifier;
  /** What was loaded, for the log and config.json. */
  weightsUsed: string;
  frozen: string[];
}

/**
 * The study's model: torchvision architecture with 1000 outputs, ImageNet (or file) weights,
 * then the head for `classes`, then freezing. A CXR model file (model.safetensors of an earlier
 * run) already holds its head, so the head is applied first and the file fills the whole model.
 * `allowMissingImagenet` lets the embedded default run continue from random init offline (it says
 * so loudly). `skipInitialWeights`: a checkpoint overwrites every tensor next.
 */
export async function buildModel(
  config: TrainConfig,
  classes: readonly string[],
  generator: T.Generator,
  log: (m: string) => void,
  options: { allowMissingImagenet?: boolean; skipInitialWeights?: boolean } = {},
): Promise<BuiltModel> {
  const numClasses = classes.length;
  const imagenet = config.weights === 'imagenet' && !options.skipInitialWeights ? imagenetWeightsPath(config.arch) : null;
  // Where every tensor is loaded next (a resumed checkpoint, ImageNet or a weights file), the
  // initial values are not drawn (~7 s for VGG16 on lavapipe); the generator moves on all the same.
  const loaded = options.skipInitialWeights || imagenet !== null || (config.weights !== 'imagenet' && config.weights !== 'none');
  const model = createModel(config.arch, { generator, initialize: !loaded });
  let weightsUsed = 'none (random init)';
  let headFirst = false;
  if (options.skipInitialWeights) {
    // A resumed run overwrites every tensor from its checkpoint; the file it started from may be gone.
    weightsUsed = config.weights === 'none' ? weightsUsed : config.weights;
  } else if (config.weights === 'imagenet') {
    if (imagenet) {
      await loadModelFile(imagenet, model);
      weightsUsed = `imagenet (${imagenet})`;
    } else {
      const file = (officialWeights as Record<string, string>)[config.arch];
      const hint = file
        ? `run \`pnpm cli weights pull ${config.arch}\`, or copy ${file} into ${T.cacheDir()}`
        : `no official ImageNet file is known for ${config.arch}; use --weights FILE or --weights none`;
      if (!options.allowMissingImagenet) throw new Error(`ImageNet weights for ${config.arch} are not cached: ${hint}`);
      log(`!! ImageNet weights for ${config.arch} are not cached (offline?): training from random init. To fine-tune, ${hint}.`);
    }
  } else if (config.weights !== 'none') {
    // A CXR model file's keys are those of the head-carrying model: its head goes on first.
    headFirst = isCxrModelFile(config.weights, config, classes);
    if (headFirst) applyHead(model, config.head, numClasses, generator);
    await loadModelFile(config.weights, model);
    weightsUsed = config.weights;
  }
  if (!headFirst) applyHead(model, config.head, numClasses, generator);
  const frozen = applyFreeze(model, config.arch, config.freeze);
  return { model, weightsUsed, frozen };
}

/**
 * Whether `--weights FILE` is a CXR model file (it records arch, head and classes), which can be
 * fine-tuned on only as the same network: same --arch and --head, same classes in the same order
 * (output i keeps meaning class i). Anything else is refused here by name, not later as a list of
 * mismatched tensor shapes.
 */
function isCxrModelFile(file: string, config: TrainConfig, classes: readonly string[]): boolean {
  const info = readModelInfo(file);
  if (!info.arch || !info.head || !info.classes) return false;
  const differences = [
    info.arch !== config.arch ? `--arch ${info.arch} (this run: ${config.arch})` : '',
    info.head !== config.head ? `--head ${info.head} (this run: ${config.head})` : '',
    info.classes.join(',') !== classes.join(',') ? `classes [${info.classes.join(', ')}] (this run's data: [${classes.join(', ')}])` : '',
  ].filter(Boolean);
  if (differences.length)
    throw new Error(
      `--weights ${file} is a CXR model trained with ${differences.join(', ')}; fine-tune it with the same --arch, --head and classes, or start from --weights imagenet`,
    );
  return true;
}

/** Sets train mode but keeps fully frozen batch-norm layers on their pretrained statistics. */
export function setTrainMode(model: Module): void {
  model.train();
  freezeBatchNormStats(model);
}

export function buildOptimizer(config: TrainConfig, model: Module): Optimizer<{ lr: number }> {
  const params = model.parameters().filter((p) => p.requiresGrad);
  if (params.length === 0) throw new Error(`--freeze ${config.freeze} freezes every parameter: nothing would train`);
  switch (config.optimizer) {
    case 'sgd':
      return new SGD(params, { lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay });
    case 'adam':
      return new Adam(params, { lr: config.lr, weightDecay: config.weightDecay });
    case 'adamw':
      return new AdamW(params, { lr: config.lr, weightDecay: config.weightDecay });
  }
}

/** Per-epoch schedule (stepped once after each epoch), or null for a constant rate. */
export function buildScheduler(config: TrainConfig, optimizer: Optimizer<{ lr: number }>): LRScheduler | null {
  const s = parseSchedule(config.schedule);
  if (s.kind === 'cosine') return new CosineAnnealingLR(optimizer, { tMax: config.epochs });
  if (s.kind === 'step') return new StepLR(optimizer, { stepSize: s.every, gamma: s.gamma });
  return null;
}
