import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { experimentsReport } from '../src/commands/experiments.ts';
import { validateTrainConfig } from '../src/config/validateTrainConfig.ts';
import { defaultTrainConfig } from '../src/config/trainConfig.ts';
import { experimentRunOptions, seedStudyRuns } from '../src/experiments/seedStudy.ts';
import { parseShard, selectOnly, selectRuns, selectShard } from '../src/experiments/runSelection.ts';

describe('seed-study grid', () => {
  it('has the 13 runs of the study', () => {
    expect(seedStudyRuns).toHaveLength(13);
    const t1 = seedStudyRuns.filter((r) => r.task === 1).map((r) => r.options);
    expect(t1).toHaveLength(7);
    expect(t1.every((o) => o.freeze === 'backbone')).toBe(true);
    expect(
      t1
        .filter((o) => o.arch === 'vgg16')
        .map((o) => `${o.head}@${o.lr}`)
        .sort(),
    ).toEqual(['mlp:2000@0.001', 'mlp:2000@0.00001', 'mlp:530@0.001', 'mlp:530@0.00001'].sort());
    expect(
      t1
        .filter((o) => o.arch === 'resnet18')
        .map((o) => `${o.head}@${o.lr}`)
        .sort(),
    ).toEqual(['mlp:2000@0.00001', 'mlp:530@0.001', 'mlp:530@0.00001'].sort());
    const t2 = seedStudyRuns.filter((r) => r.task === 2).map((r) => r.options);
    expect(t2.every((o) => o.lr === 1e-3)).toBe(true);
    expect(t2.filter((o) => o.arch === 'vgg16').map((o) => o.freeze)).toEqual(['none', 'features', 'vgg-convs:0,2,5,10,24,28']);
    expect(t2.filter((o) => o.arch === 'resnet18').map((o) => o.freeze)).toEqual(['none', 'head', 'resnet-upto:layer2']);
    expect(new Set(seedStudyRuns.map((r) => r.name)).size).toBe(13);
  });

  it.each(['smoke', 'full'] as const)('every run validates under the %s profile', (profile) => {
    for (const run of seedStudyRuns) {
      const options = experimentRunOptions(run, { profile, outRoot: 'runs/seed/', data: 'data/cxr', epochs: profile === 'smoke' ? undefined : 5 });
      const config = validateTrainConfig({ ...defaultTrainConfig, ...options });
      expect(config.out).toBe(`runs/seed/${run.name}`);
      expect(config.imageSize).toBe(profile === 'smoke' ? 64 : 224);
      expect(config.epochs).toBe(profile === 'smoke' ? 2 : 5);
      expect(config.limitPerClass > 0).toBe(profile === 'smoke');
    }
  });
});

describe('run selection', () => {
  const items = Array.from({ length: 13 }, (_, i) => ({ name: `r${i}` }));
  it('parses i/n and rejects nonsense', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    for (const bad of ['0/4', '5/4', '1/0', 'a/b', '1', '-1/2']) expect(() => parseShard(bad)).toThrow(/bad --shard/);
  });
  it('shards partition the runs for every n', () => {
    for (let n = 1; n <= 15; n++) {
      const seen = Array.from({ length: n }, (_, k) => selectShard(items, { index: k + 1, count: n })).flat();
      expect(seen.map((s) => s.name).sort()).toEqual(items.map((s) => s.name).sort());
      const sizes = Array.from({ length: n }, (_, k) => selectShard(items, { index: k + 1, count: n }).length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
    expect(selectShard(items, { index: 2, count: 4 }).map((s) => s.name)).toEqual(['r1', 'r5', 'r9']);
  });
  it('--only takes names and globs, in grid order, and names the runs on a typo', () => {
    expect(selectOnly(seedStudyRuns, 't2-resnet18-unfrozen,t1-vgg16-mlp530-lr1e-3').map((r) => r.name)).toEqual([
      't1-vgg16-mlp530-lr1e-3',
      't2-resnet18-unfrozen',
    ]);
    expect(selectOnly(seedStudyRuns, 't1-resnet18-*')).toHaveLength(3);
    expect(() => selectOnly(seedStudyRuns, 't2-resnet18-unfrozn')).toThrow(/matches no run \(did you mean t2-resnet18-unfrozen\?\); run names: t1-/);
  });
  it('combines --only and --shard', () => {
    expect(selectRuns(seedStudyRuns, { only: 't1-*', shard: '2/2' }).map((r) => r.name)).toEqual([
      't1-vgg16-mlp530-lr1e-5',
      't1-vgg16-mlp2000-lr1e-5',
      't1-resnet18-mlp530-lr1e-5',
    ]);
    expect(selectRuns(seedStudyRuns)).toHaveLength(13);
  });
});

describe('experiments report --out', () => {
  it('finds the runs that experiments run --out R wrote in R (not under runs/seed-study)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cxr-report-'));
    try {
      const run = join(root, seedStudyRuns[0].name);
      mkdirSync(run);
      writeFileSync(join(run, 'config.json'), '{}');
      writeFileSync(
        join(run, 'metrics.json'),
        JSON.stringify({ version: 1, bestEpoch: 1, epochs: 1, splits: { test: { accuracy: 0.75, f1: 0.5, macroF1: 0.6, auc: 0.8 } } }),
      );
      const quiet = vi.spyOn(console, 'log').mockImplementation(() => {});
      try {
        const md = await experimentsReport('seed-study', { out: root });
        expect(md).toMatch(/1 of 13 runs finished/);
        expect(md).toMatch(new RegExp(`\\| ${seedStudyRuns[0].name} \\|.*75\\.00%`));
        expect(readFileSync(join(root, 'report.md'), 'utf8')).toBe(md);
      } finally {
        quiet.mockRestore();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
