/**
 * model.safetensors as a file that stands alone: the selected epoch's weights plus every fact
 * inference needs (see ModelInfo in @cxr/models), so `cxr predict --model FILE` works anywhere and
 * PyTorch can rebuild the network. After a successful run the resume-only checkpoints are removed
 * (a VGG16 run otherwise leaves ~2.7 GB) unless --keep-checkpoints.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGENET_MEAN, IMAGENET_STD } from '@cxr/data';
import type { ModelInfo } from '@cxr/models';
import type { TrainConfig } from '../config/trainConfig.ts';
import { cxrVersion } from '../config/version.ts';

/** The inference facts of a run's model: evaluation preprocessing is resize to size·256/224 (bicubic), centre crop. */
export function modelInfoFor(
  config: Pick<TrainConfig, 'arch' | 'head' | 'imageSize'>,
  classes: readonly string[],
  positiveClass: string | null,
  epoch?: number,
): ModelInfo {
  return {
    arch: config.arch,
    head: config.head,
    classes: [...classes],
    positiveClass,
    inputSize: config.imageSize,
    resizeSize: Math.round((config.imageSize * 256) / 224),
    resizeFilter: 'bicubic',
    crop: 'center',
    mean: [...IMAGENET_MEAN],
    std: [...IMAGENET_STD],
    channels: 'grey-to-rgb',
    version: cxrVersion(),
    epoch,
  };
}

/** Deletes the given checkpoint files of a finished run; returns the names removed. */
export function removeCheckpoints(dir: string, files: readonly string[]): string[] {
  const removed: string[] = [];
  for (const f of files) {
    const p = join(dir, f);
    if (existsSync(p)) {
      rmSync(p, { force: true });
      removed.push(f);
    }
  }
  return removed;
}
