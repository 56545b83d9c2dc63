/**
 * What saving costs between epochs: the CLI's saveCheckpoint (model, optimizer state, trainer
 * state), then the best model as `cxr train` keeps it (linked to the checkpoint's model file) and
 * as it did before 2026-12-02 (saveModel: read back and written again), for the default job's
 * ResNet-18 after a few Adam steps, several rounds; and what reading them back costs: the model
 * file alone (`cxr eval`, `predict`, `explain`, a run's start from a weights file) and the whole
 * set (`cxr train --resume`), both from the page cache.
 *
 * `pnpm exec tsx src/checkpoint.ts [--arch resnet18] [--rounds 5]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getDevice, sync } from '@cxr/tensor';
import { option } from './cliArgs.ts';
import { trainStepRunner } from './step.ts';
import { checkpointFiles, loadCheckpoint, loadModelFile, saveCheckpoint, saveModel } from '../../packages/cli/src/train/checkpoint.ts';
import { linkOrCopyAtomic } from '../../packages/cli/src/run/atomicWrite.ts';

await getDevice({ lowerMainThreadPriority: true });
const arch = option('--arch') ?? 'resnet18';
const rounds = Number(option('--rounds') ?? 5);
const runner = trainStepRunner({ arch });
for (let i = 0; i < 3; i++) await runner.step();
const dir = mkdtempSync(join(tmpdir(), 'cxr-ckpt-'));
const info = { arch, numClasses: 2, imageSize: 64, classes: ['a', 'b'], inputChannels: 3 } as never;
const state = { epoch: 1, bestValAccuracy: 0.5, bestScore: 1, bestEpoch: 1, generator: null, scheduler: null, gradScaler: null } as never;
for (let r = 0; r < rounds; r++) {
  const t0 = performance.now();
  await saveCheckpoint(dir, runner.model, runner.opt, state, info);
  const t1 = performance.now();
  linkOrCopyAtomic(join(dir, checkpointFiles.last), join(dir, checkpointFiles.best));
  const t2 = performance.now();
  await saveModel(join(dir, 'best-saved.safetensors'), runner.model, 1, info);
  const t3 = performance.now();
  await loadModelFile(join(dir, checkpointFiles.best), runner.model);
  await sync();
  const t4 = performance.now();
  await loadCheckpoint(dir, runner.model, runner.opt);
  await sync();
  const t5 = performance.now();
  console.log(
    `round ${r + 1}: checkpoint ${(t1 - t0).toFixed(0)} ms, best model linked ${(t2 - t1).toFixed(1)} ms (saved again: ${(t3 - t2).toFixed(0)} ms); loading the model ${(t4 - t3).toFixed(0)} ms, the checkpoint ${(t5 - t4).toFixed(0)} ms`,
  );
}
rmSync(dir, { recursive: true, force: true });
runner.dispose();
process.exit(0);
