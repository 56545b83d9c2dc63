/**
 * The study's experiment grid as shipped config: 13 runs. Task 1 freezes the ImageNet backbone
 * and compares heads and learning rates; Task 2 fixes LR 1e-3 and compares how much of the
 * network is frozen. Task 2 uses the mlp:530 head for every run (the study varies only freezing
 * there). All runs start from ImageNet weights with Adam.
 */
import type { TrainConfig } from '../config/trainConfig.ts';

export interface ExperimentRun {
  /** Folder name under the experiment's output root; also what --only matches. */
  name: string;
  /** The study's task (seed-study only); a grid file's runs have none. */
  task?: 1 | 2;
  /** Readable description for the report, e.g. 'convs 0,2,5,10,24,28 frozen'. */
  description: string;
  /** Options that define the run; the profile supplies the rest. */
  options: Partial<TrainConfig>;
}

export const taskTitles: Record<1 | 2, string> = {
  1: 'Task 1: backbone frozen, heads and learning rates',
  2: 'Task 2: LR 1e-3, how much is frozen',
};

function task1(arch: 'vgg16' | 'resnet18', hidden: 530 | 2000, lr: 1e-3 | 1e-5): ExperimentRun {
  const lrName = lr === 1e-3 ? '1e-3' : '1e-5';
  return {
    name: `t1-${arch}-mlp${hidden}-lr${lrName}`,
    task: 1,
    description: `${arch === 'vgg16' ? 'VGG16' : 'ResNet-18'}, backbone frozen, head mlp:${hidden}, LR ${lrName}`,
    options: { arch, head: `mlp:${hidden}`, freeze: 'backbone', lr },
  };
}

function task2(arch: 'vgg16' | 'resnet18', suffix: string, freeze: string, what: string): ExperimentRun {
  return {
    name: `t2-${arch}-${suffix}`,
    task: 2,
    description: `${arch === 'vgg16' ? 'VGG16' : 'ResNet-18'}, ${what}, LR 1e-3`,
    // Task 2 fine-tunes the pretrained classifier with only its last Linear swapped.
    options: { arch, head: 'replace', freeze, lr: 1e-3 },
  };
}

export const seedStudyRuns: readonly ExperimentRun[] = [
  task1('vgg16', 530, 1e-3),
  task1('vgg16', 530, 1e-5),
  task1('vgg16', 2000, 1e-3),
  task1('vgg16', 2000, 1e-5),
  task1('resnet18', 530, 1e-3),
  task1('resnet18', 530, 1e-5),
  task1('resnet18', 2000, 1e-5),
  task2('vgg16', 'unfrozen', 'none', 'no freezing'),
  task2('vgg16', 'convs-frozen', 'features', 'all convolutions frozen'),
  task2('vgg16', 'convs-0-2-5-10-24-28-frozen', 'vgg-convs:0,2,5,10,24,28', 'convs 0,2,5,10,24,28 frozen'),
  task2('resnet18', 'unfrozen', 'none', 'no freezing'),
  task2('resnet18', 'head-frozen', 'head', 'head frozen'),
  task2('resnet18', 'upto-layer2-frozen', 'resnet-upto:layer2', 'conv1+layer1+layer2 frozen'),
];

export const profileNames = ['smoke', 'full'] as const;
export type ProfileName = (typeof profileNames)[number];

/**
 * smoke: the whole grid on a CPU-only machine in about half an hour (64 px, 48 images per class
 * and split, 2 epochs). full: the study's setting (224 px, all data) for GPUs.
 */
export const profiles: Record<ProfileName, Partial<TrainConfig>> = {
  smoke: { imageSize: 64, limitPerClass: 48, epochs: 2, batchSize: 16 },
  full: { imageSize: 224, limitPerClass: 0, epochs: 20, batchSize: 32 },
};

/** Options shared by every run of the grid, before the profile and the run's own options. */
export const seedStudyBase: Partial<TrainConfig> = { weights: 'imagenet', optimizer: 'adam', loss: 'ce', schedule: 'constant', augment: 'none', seed: 0 };

export interface RunConfigOptions {
  profile: ProfileName;
  /** Root under which each run gets its own folder (e.g. runs/seed-study-smoke). */
  outRoot: string;
  data: string;
  /** --epochs N override for the whole grid. */
  epochs?: number;
}

/**
 * Raw option values of one grid run, to be passed to mergeTrainOptions as defaults (so a user's
 * flags could still override) or straight to validateTrainConfig.
 */
export function experimentRunOptions(run: ExperimentRun, options: RunConfigOptions): Partial<TrainConfig> {
  return {
    ...seedStudyBase,
    ...profiles[options.profile],
    ...run.options,
    data: options.data,
    out: `${options.outRoot.replace(/\/+$/, '')}/${run.name}`,
    ...(options.epochs !== undefined ? { epochs: options.epochs } : {}),
  };
}
