// Fixes from the CLI audit: experiments run reusing run folders the grid no longer describes,
// cache clean --all deleting files CXR never wrote, bad images of manifest splits dropped
// silently, eval on other data overwriting the run's result, integer options naming no flag.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadImageFolder, synthesizeDataset } from '@cxr/data';
import { cacheClean } from '../src/commands/cache.ts';
import { evalFileName, isRunsOwnData, skippedInSplit } from '../src/commands/evaluate.ts';
import { experimentsRun } from '../src/commands/experiments.ts';
import { mergeTrainOptions } from '../src/config/trainCommand.ts';
import { defaultTrainConfig, type TrainConfig } from '../src/config/trainConfig.ts';
import { collectRuns } from '../src/experiments/collectRuns.ts';
import { experimentRunOptions, seedStudyRuns } from '../src/experiments/seedStudy.ts';
import { main } from '../src/main.ts';
import { openDataset, skippedBySplit } from '../src/train/data.ts';
import { quietly } from './quietly.ts';

// experiments run must decide about each folder without training anything here.
const trained = vi.hoisted(() => [] as { out: string; resume: boolean; force: boolean; epochs: number; lr: number }[]);
vi.mock('../src/train/train.ts', () => ({
  train: async (config: TrainConfig) => {
    trained.push({ out: config.out, resume: config.resume, force: config.force, epochs: config.epochs, lr: config.lr });
    return {};
  },
}));

const work = mkdtempSync(join(tmpdir(), 'cxr-fixes-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('integer options of eval, predict and experiments', () => {
  it.each([
    [['eval', '--run', 'r', '--image-size', 'abc'], '--image-size'],
    [['predict', '--model', 'm.safetensors', '--image-size', '1.5', 'x.png'], '--image-size'],
    [['experiments', 'run', 'seed-study', '--epochs', 'abc'], '--epochs'],
    [['experiments', 'plan', '--grid', 'g.yaml', '--slurm', 'two'], '--slurm'],
  ])('%j is a usage error (exit 2) naming the flag', async (argv, flag) => {
    const { value, err } = await quietly(() => main(argv));
    expect(value).toBe(2);
    expect(err).toContain(flag);
    expect(err.trim().split('\n')).toHaveLength(1);
  });
});

describe('cache clean --all', () => {
  it("deletes only what CXR writes; a user's files in $CXR_CACHE stay and are listed", () => {
    const dir = join(work, 'cache');
    mkdirSync(join(dir, 'images', 'ab'), { recursive: true });
    writeFileSync(join(dir, 'images', 'ab', 'k.u8'), new Uint8Array(100));
    writeFileSync(join(dir, 'vgg16-397923af.pth'), new Uint8Array(50));
    writeFileSync(join(dir, 'vgg16-397923af.pth.part-123'), new Uint8Array(7));
    writeFileSync(join(dir, 'matmul-tune.json'), '{}');
    writeFileSync(join(dir, 'thesis.tex'), '\\documentclass{article}');
    mkdirSync(join(dir, 'figures'));
    writeFileSync(join(dir, 'figures', 'roc.pdf'), 'pdf');
    expect(cacheClean({ all: true }, dir)).toEqual({ freed: 159, leftAlone: ['figures', 'thesis.tex'] });
    expect(readdirSync(dir).sort()).toEqual(['figures', 'thesis.tex']);
    expect(existsSync(join(dir, 'figures', 'roc.pdf'))).toBe(true);
  });
});

describe('experiments run over existing run folders', () => {
  const run = seedStudyRuns[0];
  const data = join(work, 'exp-data');
  const out = join(work, 'exp');
  const dir = join(out, run.name);
  /** The config.json a run of the grid under `profile` (and `change`) would have written. */
  const storedConfig = (profile: 'smoke' | 'full', change: Partial<TrainConfig> = {}) =>
    mergeTrainOptions({}, {}, { defaults: { ...experimentRunOptions(run, { profile, outRoot: out, data }), ...change } }).config;
  const runFolder = (config: TrainConfig, finished: boolean) => {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    if (finished) writeFileSync(join(dir, 'metrics.json'), JSON.stringify({ version: 1, bestEpoch: 1, epochs: 2, splits: {} }));
    else writeFileSync(join(dir, 'trainer.json'), JSON.stringify({ epoch: 1 }));
  };
  const runGrid = (o: { profile?: string; epochs?: number; force?: boolean }) =>
    quietly(() => experimentsRun('seed-study', { only: run.name, out, data, ...o }));
  beforeEach(() => {
    trained.length = 0;
  });

  it('refuses to skip a finished smoke run when the grid now asks for --profile full, naming run and settings', async () => {
    runFolder(storedConfig('smoke'), true);
    await expect(runGrid({ profile: 'full' })).rejects.toThrow(
      new RegExp(
        `^1 run\\(s\\) in .* ${run.name} \\(finished: .*--epochs 2 \\(the grid now asks for 20\\).*--image-size 64 \\(the grid now asks for 224\\).*pass --force`,
      ),
    );
    expect(trained).toEqual([]);
  });

  it('skips a finished run that matches, and retrains a differing one only with --force', async () => {
    runFolder(storedConfig('smoke'), true);
    await runGrid({ profile: 'smoke' });
    expect(trained).toEqual([]);
    await runGrid({ profile: 'full', force: true });
    expect(trained).toEqual([expect.objectContaining({ out: dir, resume: false, force: true, epochs: 20 })]);
  });

  it('refuses to resume an unfinished run whose learning rate or image size the grid has changed', async () => {
    runFolder(storedConfig('smoke', { lr: 0.01, imageSize: 32 }), false);
    const e = runGrid({ profile: 'smoke' });
    await expect(e).rejects.toThrow(/\(unfinished: --lr 0\.01 \(the grid now asks for 0\.001\), --image-size 32 \(the grid now asks for 64\)\)/);
    await expect(e).rejects.toThrow(/or run with the grid, --profile and --epochs they were started with$/);
    expect(trained).toEqual([]);
  });

  it('resumes a matching unfinished run, more epochs included (as train --resume --epochs)', async () => {
    runFolder(storedConfig('smoke'), false);
    await runGrid({ profile: 'smoke', epochs: 5 });
    expect(trained).toEqual([expect.objectContaining({ out: dir, resume: true, force: false, epochs: 5 })]);
  });

  it("the report shows each run's recorded settings, not the grid's", () => {
    runFolder(storedConfig('smoke', { lr: 0.01, head: 'mlp:64' }), true);
    const [summary] = collectRuns([run], [out]).summaries;
    expect(summary).toMatchObject({ name: run.name, status: 'finished', lr: 0.01, head: 'mlp:64', arch: 'vgg16', freeze: 'backbone' });
  });
});

describe('bad images of manifest-defined splits', () => {
  let root = '';
  let bad = '';
  /** A manifest with a split column over flat files, one validation image truncated. */
  const manifestData = async () => {
    root = join(work, 'msplit');
    const synth = join(work, 'msplit-synth');
    await synthesizeDataset({ out: synth, perClass: 16, size: 32, seed: 0 });
    mkdirSync(join(root, 'img'), { recursive: true });
    const rows = ['path,label,split'];
    for (const split of ['train', 'val', 'test'])
      for (const cls of readdirSync(join(synth, split)))
        for (const f of readdirSync(join(synth, split, cls))) {
          const name = `${split}_${cls}_${f}`;
          renameSync(join(synth, split, cls, f), join(root, 'img', name));
          rows.push(`img/${name},${cls},${split}`);
        }
    writeFileSync(join(root, 'm.csv'), rows.join('\n'));
    const val = rows.find((r) => r.endsWith(',val'))!.split(',')[0];
    bad = join(root, val);
    writeFileSync(bad, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, 0, 0]));
  };

  it('train refuses a validation image that cannot be decoded, as it does with split folders', async () => {
    await manifestData();
    const config = { ...defaultTrainConfig, data: root, manifest: 'm.csv' };
    await expect(
      openDataset(
        config,
        () => {},
        () => {},
      ),
    ).rejects.toThrow(/^1 validation\/test image\(s\) cannot be decoded: .*img\/val_.*--skip-bad-images/);
    // With --skip-bad-images it is counted in the validation split (metrics.json "skipped").
    const folder = await openDataset(
      { ...config, skipBadImages: true },
      () => {},
      () => {},
    );
    expect(skippedBySplit(folder, []).val?.map((f) => f.file)).toEqual([bad]);
  });

  it('eval lists it among the skipped files of its split', async () => {
    const folder = await loadImageFolder(root, { manifest: 'm.csv', onBadImage: 'skip', log: () => {}, warn: () => {} });
    expect(skippedInSplit(folder, 'val', []).map((f) => f.file)).toEqual([bad]);
    expect(skippedInSplit(folder, 'test', [])).toEqual([]);
  });
});

describe('eval --run on its own and on other data', () => {
  const run = { ...defaultTrainConfig, data: 'data/cxr', manifest: '', classes: '' };
  it("the run's own data is its folder however spelt, with its manifest and classes", () => {
    expect(isRunsOwnData(run, {})).toBe(true);
    expect(isRunsOwnData(run, { data: './data/cxr/' })).toBe(true);
    expect(isRunsOwnData(run, { data: 'data/other' })).toBe(false);
    expect(isRunsOwnData(run, { manifest: 'm.csv' })).toBe(false);
    expect(isRunsOwnData(run, { classes: 'COVID=infected,Normal=normal' })).toBe(false);
  });
  it('evaluations on other data get a file name of their own, never eval-<split>.json', () => {
    const own = { data: '/d/cxr', split: 'test' as const, runsOwnSplits: true };
    expect(evalFileName(own)).toBe('eval-test.json');
    const other = evalFileName({ data: '/d/hospital b', split: 'test', runsOwnSplits: false });
    expect(other).toMatch(/^eval-test-on-hospital_b-[0-9a-f]{8}\.json$/);
    expect(evalFileName({ data: '/e/hospital b', split: 'test', runsOwnSplits: false })).not.toBe(other);
  });
});
