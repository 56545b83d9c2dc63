// `cxr train` through the real CLI process, on run folders built by hand in the states a kill
// leaves: a resume before the first checkpoint starts exactly as a fresh run, history.csv and the
// checkpoint never disagree, a finished run's model.safetensors can be fine-tuned on, --threshold
// is refused for more than two classes, and a truncated model file is reported as such.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeDataset } from '@cxr/data';
import { openSafetensors } from '@cxr/models';
import { formatHistoryCsv, readHistory } from '../src/run/historyCsv.ts';

const root = resolve(import.meta.dirname, '../../..');
const tsx = join(root, 'node_modules/.bin/tsx');
const main = join(root, 'packages/cli/src/main.ts');
let work: string;
let data: string;
let data3: string;

function cxr(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(tsx, [main, ...args], { cwd: work, encoding: 'utf8', timeout: 600_000, env: { ...process.env, CXR_CACHE: join(work, 'cache') } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const common = ['--arch', 'resnet18', '--image-size', '32', '--batch-size', '8', '--epochs', '1', '--optimizer', 'sgd', '--lr', '0.01', '--seed', '3'];

function weightsOf(file: string): Map<string, Float32Array> {
  const f = openSafetensors(file);
  try {
    return new Map(f.tensors.map((t) => [t.name, t.load().data as Float32Array]));
  } finally {
    f.close();
  }
}

function expectSameWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  expect([...b.keys()]).toEqual([...a.keys()]);
  for (const [k, v] of a) expect(Buffer.compare(Buffer.from(v.buffer), Buffer.from(b.get(k)!.buffer)), k).toBe(0);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cxr-resume-weights-'));
  data = join(work, 'data');
  await synthesizeDataset({ out: data, perClass: 14, size: 48, seed: 1 });
  // Three classes: a copy of one class under another name (refused before the audit sees the duplicates).
  data3 = join(work, 'data3');
  cpSync(data, data3, { recursive: true });
  for (const split of readdirSync(data3)) cpSync(join(data3, split, 'normal'), join(data3, split, 'other'), { recursive: true });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('cxr train --resume', () => {
  it('starts a run killed before its first checkpoint exactly as a fresh run, dropping the history row written ahead', () => {
    const fresh = cxr(['train', '--data', data, '--out', 'runs/fresh', ...common, '--weights', 'none', '--keep-checkpoints']);
    expect(fresh.code, fresh.stderr).toBe(0);
    // What a kill between history.csv and epoch 1's checkpoint leaves: config.json, audit.json and one row.
    const dir = join(work, 'runs/early');
    mkdirSync(dir, { recursive: true });
    for (const f of ['config.json', 'audit.json']) copyFileSync(join(work, 'runs/fresh', f), join(dir, f));
    const row = readHistory(join(work, 'runs/fresh'))[0];
    writeFileSync(join(dir, 'history.csv'), formatHistoryCsv([{ ...row, trainLoss: 999, valAccuracy: 0.123 }]));

    const r = cxr(['train', '--out', 'runs/early', '--resume', '--keep-checkpoints']);
    expect(r.code, r.stderr).toBe(0);
    const resumed = weightsOf(join(dir, 'last.safetensors'));
    expect(resumed.get('conv1.weight')!.some((v) => v !== 0)).toBe(true);
    // The same initialisation, data order and steps as the uninterrupted run: the same bytes.
    expectSameWeights(weightsOf(join(work, 'runs/fresh/last.safetensors')), resumed);
    expect(r.stdout).toMatch(/no checkpoint yet: starting from epoch 1/);
    const history = readHistory(dir);
    expect(history.map((h) => [h.epoch, h.trainLoss, h.valAccuracy])).toEqual([[1, row.trainLoss, row.valAccuracy]]);
    // The weights actually used, not the configured name alone.
    expect(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')).weightsUsed).toBe('none (random init)');
  });

  it('rebuilds history.csv from the checkpoint: a row lost after it is restored, one ahead of it dropped', () => {
    const fresh = join(work, 'runs/fresh');
    const row = readHistory(fresh)[0];
    // A kill after epoch 1's checkpoint but before its row (lost), with a stray row 2 from a later, unfinished epoch.
    const dir = join(work, 'runs/cut');
    cpSync(fresh, dir, { recursive: true });
    for (const f of ['metrics.json', 'model.safetensors']) rmSync(join(dir, f));
    writeFileSync(join(dir, 'history.csv'), formatHistoryCsv([{ ...row, epoch: 2, trainLoss: 999 }]));
    const r = cxr(['train', '--out', 'runs/cut', '--resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(readHistory(dir)).toEqual([row]);
  });

  it('stops before anything is written when the data folder changed since the checkpoint (the splits would be redrawn)', () => {
    const changed = join(work, 'data-changed');
    cpSync(data, changed, { recursive: true });
    const dir = join(work, 'runs/moved');
    cpSync(join(work, 'runs/fresh'), dir, { recursive: true });
    rmSync(join(dir, 'metrics.json'));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, data: changed }));
    // One more training image: every seeded split is drawn anew from the longer list.
    const train = join(changed, readdirSync(changed).find((s) => /^train$/i.test(s))!);
    const cls = join(train, readdirSync(train)[0]);
    const first = readdirSync(cls)[0];
    copyFileSync(join(cls, first), join(cls, `added-${first}`));
    const before = readFileSync(join(dir, 'last.safetensors'));
    const r = cxr(['train', '--out', 'runs/moved', '--resume', '--epochs', '2']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/data-changed is not the data .*runs\/moved trained on \(train: \d+ -> \d+ images\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // one line, no stack
    expect(readFileSync(join(dir, 'last.safetensors')).equals(before)).toBe(true);
    expect(readHistory(dir)).toEqual(readHistory(join(work, 'runs/fresh')));
  });
});

describe('cxr train --weights MODEL.safetensors', () => {
  it("fine-tunes on from a finished run's model file, and the finished run's resume error gives that command", () => {
    const model = join(work, 'runs/fresh/model.safetensors');
    const r = cxr(['train', '--data', data, '--out', 'runs/on', ...common, '--weights', model, '--freeze', 'backbone']);
    expect(r.code, r.stderr).toBe(0);
    // A frozen backbone keeps exactly the weights (and batch-norm statistics) loaded from the file.
    const before = weightsOf(model);
    const after = weightsOf(join(work, 'runs/on/model.safetensors'));
    for (const k of ['conv1.weight', 'bn1.running_mean', 'layer4.1.conv2.weight'])
      expect(Buffer.compare(Buffer.from(before.get(k)!.buffer), Buffer.from(after.get(k)!.buffer)), k).toBe(0);
    expect(JSON.parse(readFileSync(join(work, 'runs/on/metrics.json'), 'utf8')).weightsUsed).toBe(model);

    // runs/on deleted its checkpoints: resuming it names a command that works.
    const again = cxr(['train', '--out', 'runs/on', '--resume']);
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toContain(`cxr train --data ${data} --arch resnet18 --head replace --image-size 32 --weights runs/on/model.safetensors --out NEW_DIR`);
  });

  it('refuses a model file trained on other classes by name', () => {
    const model = join(work, 'runs/fresh/model.safetensors');
    const r = cxr([
      'train',
      '--data',
      data,
      '--classes',
      'infected=sick,normal=well',
      '--positive',
      'sick',
      '--out',
      'runs/renamed',
      ...common,
      '--weights',
      model,
    ]);
    expect(r.code).not.toBe(0);
    // lavapipe's own start-up warnings aside, one line.
    expect(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('Warning:')),
    ).toHaveLength(1);
    expect(r.stderr).toMatch(/--weights .*model\.safetensors is a CXR model trained with classes \[infected, normal\] \(this run's data: \[sick, well\]\)/);
  });
});

describe('cxr train --threshold', () => {
  it('is refused for three classes before the run folder is touched', () => {
    const r = cxr(['train', '--data', data3, '--out', 'runs/three', ...common, '--weights', 'none', '--threshold', '0.5']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--threshold 0\.5 applies to two classes, but the data has 3 \(infected, normal, other\)/);
    expect(existsSync(join(work, 'runs/three'))).toBe(false);
  });

  it('a three-class run that recorded one before this check still resumes, saying the most probable class decides', () => {
    // Such a run's config.json (written by an older CXR): the refusal must not strand it.
    const dir = join(work, 'runs/old3');
    mkdirSync(dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(work, 'runs/fresh/config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, data: data3, threshold: '0.5', out: dir }));
    const r = cxr(['train', '--out', 'runs/old3', '--resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--threshold 0\.5 \(recorded by this run\) does not apply to 3 classes: the most probable class decides/);
    expect(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')).evidence.threshold).toBeNull();
  });
});

describe('cxr predict --model', () => {
  it('reports a truncated model file as truncated, naming it', () => {
    const whole = readFileSync(join(work, 'runs/fresh/model.safetensors'));
    const cut = join(work, 'cut.safetensors');
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const image = join(data, 'test/normal', readdirSync(join(data, 'test/normal'))[0]);
    const r = cxr(['predict', '--model', cut, image]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(cut);
    expect(r.stderr).not.toMatch(/no CXR metadata/);
    expect(r.stderr).toMatch(/data|truncated/);
  });
});
