// The per-epoch checkpoint is a set (weights, optimizer state, trainer.json). Before, a kill
// between last.safetensors and trainer.json left weights of epoch 2 with the trainer state of
// epoch 1, and --resume used them together without a word. Now the set's epochs must agree;
// a torn set falls back to the previous complete one, saying so.
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { crossEntropy, Linear, SGD } from '@cxr/nn';
import { openSafetensors, saveWeights } from '@cxr/models';
import { checkpointFiles, fileEpoch, loadCheckpoint, loadModelFile, saveCheckpoint, saveModel } from '../src/train/checkpoint.ts';
import { modelInfoFor } from '../src/train/modelFile.ts';

beforeAll(async () => {
  await T.getDevice();
});
afterAll(() => T.destroyDevice());

const info = modelInfoFor({ arch: 'linear', head: 'replace', imageSize: 5 }, ['a', 'b', 'c'], null);
const state = (epoch: number) => ({ epoch, bestValAccuracy: 0.5, bestEpoch: epoch, generator: { seed: 1, calls: epoch }, scheduler: null });

function setup() {
  const model = new Linear(5, 3, { generator: new T.Generator(1) });
  const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  return { model, optimizer };
}

async function step(model: Linear, optimizer: SGD): Promise<void> {
  const x = T.tensor(
    Float32Array.from({ length: 10 }, (_, i) => Math.sin(i)),
    [2, 5],
  );
  const y = T.tensor(new Int32Array([0, 2]), [2], 'int32');
  const l = crossEntropy(model.forward(x), y);
  l.backward();
  optimizer.step();
  optimizer.zeroGrad();
  for (const t of [x, y, l]) t.dispose();
}

async function weightsOf(model: Linear): Promise<number[]> {
  return Array.from(await model.weight.toArray());
}

describe('checkpoint set', () => {
  it('a kill between the files falls back to the previous complete epoch, saying so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cxr-ckpt-'));
    const { model, optimizer } = setup();
    await step(model, optimizer);
    await saveCheckpoint(dir, model, optimizer, state(1), info);
    expect(readdirSync(dir).sort()).toEqual([checkpointFiles.last, checkpointFiles.optimizer, checkpointFiles.trainer].sort());
    await step(model, optimizer);
    await saveCheckpoint(dir, model, optimizer, state(2), info);
    const epoch2 = await weightsOf(model);
    // Reconstruct a kill during epoch 3's save, after last.safetensors and before trainer.json.
    await step(model, optimizer);
    for (const k of ['trainer', 'optimizer', 'last'] as const)
      renameSync(join(dir, checkpointFiles[k]), join(dir, checkpointFiles[`${k}Previous` as 'lastPrevious']));
    await saveModel(join(dir, checkpointFiles.last), model, 3, info);
    expect(fileEpoch(join(dir, checkpointFiles.last))).toBe(3);

    const fresh = setup();
    const said: string[] = [];
    const s = await loadCheckpoint(dir, fresh.model, fresh.optimizer, (m) => said.push(m));
    expect(s.epoch).toBe(2);
    expect(said.join('\n')).toMatch(
      /the newest checkpoint is incomplete \(trainer\.json epoch missing, last\.safetensors epoch 3, optimizer\.safetensors epoch missing\).*resuming from the complete set of epoch 2/,
    );
    expect(await weightsOf(fresh.model)).toEqual(epoch2);
    expect(epoch2).not.toEqual(await weightsOf(model)); // epoch 3's weights were not used
    // The set of epoch 2 is now the current one, and it stays the previous one too until the next
    // save is whole: a kill while it was being restored (or right after) still finds a set.
    expect(readdirSync(dir).sort()).toEqual(
      [
        checkpointFiles.last,
        checkpointFiles.optimizer,
        checkpointFiles.trainer,
        checkpointFiles.lastPrevious,
        checkpointFiles.optimizerPrevious,
        checkpointFiles.trainerPrevious,
      ].sort(),
    );
    expect(fileEpoch(join(dir, checkpointFiles.optimizer))).toBe(2);
    expect(fileEpoch(join(dir, checkpointFiles.optimizerPrevious))).toBe(2);
    rmSync(join(dir, checkpointFiles.trainer)); // torn again, as by a kill mid-restore
    const again = setup();
    expect((await loadCheckpoint(dir, again.model, again.optimizer)).epoch).toBe(2);
    expect(await weightsOf(again.model)).toEqual(epoch2);
    // The next complete save leaves its own set alone.
    await saveCheckpoint(dir, again.model, again.optimizer, state(3), info);
    expect(readdirSync(dir).sort()).toEqual([checkpointFiles.last, checkpointFiles.optimizer, checkpointFiles.trainer].sort());
    expect(fileEpoch(join(dir, checkpointFiles.last))).toBe(3);
  });

  it("files of different epochs with no complete set are refused, naming each file's epoch", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cxr-ckpt-'));
    const { model, optimizer } = setup();
    await saveCheckpoint(dir, model, optimizer, state(1), info);
    await saveModel(join(dir, checkpointFiles.last), model, 2, info); // weights ahead of trainer.json
    const fresh = setup();
    await expect(loadCheckpoint(dir, fresh.model, fresh.optimizer)).rejects.toThrow(
      /no complete checkpoint to resume from \(trainer\.json epoch 1, last\.safetensors epoch 2, optimizer\.safetensors epoch 1\)/,
    );
  });

  it('every file of the set carries its epoch; a complete save leaves no previous set behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cxr-ckpt-'));
    const { model, optimizer } = setup();
    await step(model, optimizer);
    await saveCheckpoint(dir, model, optimizer, state(7), info);
    expect(openSafetensors(join(dir, checkpointFiles.optimizer)).metadata.epoch).toBe('7');
    expect(fileEpoch(join(dir, checkpointFiles.last))).toBe(7);
    expect(existsSync(join(dir, checkpointFiles.lastPrevious))).toBe(false);
    const fresh = setup();
    await loadCheckpoint(dir, fresh.model, fresh.optimizer);
    expect(await weightsOf(fresh.model)).toEqual(await weightsOf(model));
  });
});

describe('parameters checked each epoch', () => {
  it('a model whose parameters went NaN is not checkpointed; the last complete set stays usable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cxr-ckpt-'));
    const { model, optimizer } = setup();
    await step(model, optimizer);
    await saveCheckpoint(dir, model, optimizer, state(1), info);
    model.loadStateDict(new Map([['bias', T.tensor(new Float32Array([0, NaN, 1]), [3])]]), { strict: false });
    await expect(saveCheckpoint(dir, model, optimizer, state(2), info)).rejects.toThrow(
      /training diverged: the model's parameters are no longer finite after epoch 2 \(.*last\.safetensors: tensor bias holds NaN at element 1; non-finite weights are not saved\); lower the learning rate/,
    );
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const fresh = setup();
    const said: string[] = [];
    expect((await loadCheckpoint(dir, fresh.model, fresh.optimizer, (m) => said.push(m))).epoch).toBe(1);
    // The refused save never replaced a file of epoch 1's set (kept under both names): nothing torn.
    expect(said).toEqual([]);
    expect(fileEpoch(join(dir, checkpointFiles.last))).toBe(1);
    expect(fileEpoch(join(dir, checkpointFiles.lastPrevious))).toBe(1);
  });
});

describe('loadModelFile messages', () => {
  it('only a key/shape mismatch gets the --arch/--head hint; other failures keep their own reason', async () => {
    // Before: every failure read "... does not fit this model (check --arch and --head): " with the reason cut off.
    const dir = mkdtempSync(join(tmpdir(), 'cxr-ckpt-'));
    const { model } = setup();
    const truncated = join(dir, 'truncated.safetensors');
    await saveModel(truncated, model, 1, info);
    writeFileSync(truncated, readFileSync(truncated).subarray(0, 60));
    await expect(loadModelFile(truncated, model)).rejects.toThrow(
      /truncated\.safetensors: safetensors: header says \d+ bytes of JSON but the file has only 52/,
    );
    await expect(loadModelFile(truncated, model)).rejects.not.toThrow(/does not fit/);
    const other = new Linear(5, 4);
    const good = join(dir, 'good.safetensors');
    await saveModel(good, model, 1, info);
    await expect(loadModelFile(good, other)).rejects.toThrow(
      /does not fit this model \(check --arch and --head\): mis-shaped keys \(2\):; weight: file \[3,5\] vs model \[4,5\]/,
    );
    rmSync(good);
    await expect(loadModelFile(good, other)).rejects.toThrow(/ENOENT|no such file/);
  });

  it('NaN weights are refused, naming the file and tensor', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cxr-ckpt-'));
    const { model } = setup();
    const nanModel = new Linear(5, 3);
    nanModel.loadStateDict(new Map([['bias', T.tensor(new Float32Array([0, NaN, 1]), [3])]]), { strict: false });
    const file = join(dir, 'nan.safetensors');
    await saveWeights(nanModel, file); // as another tool might have written it
    await expect(loadModelFile(file, model)).rejects.toThrow(/nan\.safetensors: tensor bias holds NaN at element 1 \(non-finite weights/);
  });
});

describe('finished run folders', () => {
  it('eval/predict refuse a model.safetensors whose epoch is not the best epoch metrics.json reports', async () => {
    const { modelSettings } = await import('../src/commands/evaluate.ts');
    const dir = mkdtempSync(join(tmpdir(), 'cxr-ckpt-'));
    const { model } = setup();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ arch: 'resnet18', head: 'replace', imageSize: 32, data: 'd', loss: 'ce' }));
    writeFileSync(join(dir, 'metrics.json'), JSON.stringify({ version: 1, bestEpoch: 3, epochs: 5, splits: {} }));
    await saveModel(join(dir, 'model.safetensors'), model, 3, info);
    expect(modelSettings({ run: dir }).classes).toEqual(['a', 'b', 'c']);
    await saveModel(join(dir, 'model.safetensors'), model, 5, info); // copied by a later, interrupted extension
    expect(() => modelSettings({ run: dir })).toThrow(/model\.safetensors holds epoch 5 but metrics\.json reports best epoch 3/);
  });
});
