/**
 * What saving costs between epochs: the CLI's saveCheckpoint (model, optimizer state, trainer
 * state), then the best model as `cxr train` keeps it (linked to the checkpoint's model file) and
 * as it did before 2026-12-02 (saveModel: read back and written again), for the default job's
 * ResNet-18 after a few Adam steps, several rounds; and what reading them back costs: the model
 * file alone (`cxr eval`, `predict`, `explain`, a run's start from a weights file) and the whole
 * set (`cxr train --resume`), both from the page cache. Then, in new processes (--fresh N, 2 by
 * default), the checkpoint loaded as `cxr train --resume` starts: a model built without drawing
 * and an optimizer with no state yet, so every tensor lands in new device memory.
 *
 * `pnpm exec tsx src/checkpoint.ts [--arch resnet18] [--rounds 5] [--fresh 2]`
 * (`--resume-from DIR`: only that fresh load, of DIR's checkpoint; what --fresh runs. `--keep DIR`: the
 * checkpoint is written to DIR and left there.)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getDevice, Generator, sync } from '@cxr/tensor';
import { createModel } from '@cxr/models';
import { Adam } from '@cxr/nn';
import { numberOption, option } from './cliArgs.ts';
import { trainStepRunner } from './step.ts';
import { checkpointFiles, loadCheckpoint, loadModelFile, saveCheckpoint, saveModel } from '../../packages/cli/src/train/checkpoint.ts';
import { linkOrCopyAtomic } from '../../packages/cli/src/run/atomicWrite.ts';

await getDevice({ lowerMainThreadPriority: true });
const arch = option('--arch') ?? 'resnet18';
const resumeFrom = option('--resume-from');
if (resumeFrom) {
  // As `cxr train --resume` starts: nothing drawn that the checkpoint overwrites, no optimizer state.
  const model = createModel(arch, { numClasses: 2, generator: new Generator(0), initialize: false });
  model.train();
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const t0 = performance.now();
  await loadCheckpoint(resumeFrom, model, opt);
  await sync();
  console.log(`the checkpoint in a new process (model and optimizer state into new memory): ${(performance.now() - t0).toFixed(0)} ms`);
  process.exit(0);
}
const rounds = Number(option('--rounds') ?? 5);
const runner = trainStepRunner({ arch });
for (let i = 0; i < 3; i++) await runner.step();
const keep = option('--keep');
const dir = keep ?? mkdtempSync(join(tmpdir(), 'cxr-ckpt-'));
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
runner.dispose();
for (let r = 0; r < numberOption('--fresh', 2); r++)
  process.stdout.write(
    execFileSync(process.execPath, [...process.execArgv, process.argv[1]!, '--arch', arch, '--resume-from', dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  );
if (!keep) rmSync(dir, { recursive: true, force: true });
process.exit(0);
