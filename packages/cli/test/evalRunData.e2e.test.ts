// `eval --run R`: on the run's own data (however --data spells it) it reproduces the run's splits
// (seed, carved validation, --limit-per-class) and writes R/eval-<split>.json; on other data it
// writes a file of its own and never replaces the run's result. Both record the data used.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeDataset } from '@cxr/data';

const root = resolve(import.meta.dirname, '../../..');
const tsx = join(root, 'node_modules/.bin/tsx');
const main = join(root, 'packages/cli/src/main.ts');
let work: string;

function cxr(args: string[]) {
  const r = spawnSync(tsx, [main, ...args], { cwd: work, encoding: 'utf8', timeout: 240_000, env: { ...process.env, CXR_CACHE: join(work, 'cache') } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
const readJson = (f: string) => JSON.parse(readFileSync(join(work, f), 'utf8'));

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cxr-evalrun-'));
  // train + test folders only: validation is carved from train with the run's seed and --val-fraction.
  await synthesizeDataset({ out: join(work, 'data'), perClass: 14, size: 40, seed: 4 });
  rmSync(join(work, 'data', 'val'), { recursive: true });
  cpSync(join(work, 'data'), join(work, 'other'), { recursive: true });
  const t = cxr([
    'train',
    '--data',
    'data',
    '--out',
    'runs/r',
    '--arch',
    'resnet18',
    '--weights',
    'none',
    '--image-size',
    '32',
    '--epochs',
    '1',
    '--batch-size',
    '8',
    '--seed',
    '5',
    '--val-fraction',
    '0.4',
    '--limit-per-class',
    '3',
  ]);
  expect(t.code, t.stderr).toBe(0);
}, 240_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('eval --run', () => {
  it("reproduces the run's validation split when --data names the run's own folder", () => {
    const metrics = readJson('runs/r/metrics.json');
    for (const data of [[], ['--data', `${work}/data/`]]) {
      const e = cxr(['eval', '--run', 'runs/r', '--split', 'val', ...data]);
      expect(e.code, e.stderr).toBe(0);
      const m = readJson('runs/r/eval-val.json');
      // Same images, same predictions: the same intervals as the run's own validation metrics.
      expect(m.n).toBe(metrics.splits.val.n);
      expect(m.ci).toEqual(metrics.splits.val.ci);
      expect(m.evaluatedOn).toEqual({ data: join(work, 'data'), split: 'val', runsOwnSplits: true, splitAsTheRun: true });
    }
  }, 120_000);

  it("splits the run's own images as the run did when --classes picks classes explicitly (a file of its own)", () => {
    // The run's seed and --val-fraction still decide the validation images: the default seed would
    // put some of the run's training images there.
    const metrics = readJson('runs/r/metrics.json');
    const e = cxr(['eval', '--run', 'runs/r', '--split', 'val', '--classes', 'infected,normal']);
    expect(e.code, e.stderr).toBe(0);
    const [file] = readdirSync(join(work, 'runs/r')).filter((f) => f.startsWith('eval-val-on-'));
    const m = readJson(`runs/r/${file}`);
    expect(m.evaluatedOn).toMatchObject({ runsOwnSplits: false, splitAsTheRun: true, classes: 'infected,normal' });
    expect(m.n).toBe(metrics.splits.val.n);
    expect(m.ci).toEqual(metrics.splits.val.ci);
  }, 120_000);

  it("writes an evaluation on other data to its own file, leaving the run's eval-test.json as it was", () => {
    expect(cxr(['eval', '--run', 'runs/r']).code).toBe(0);
    const own = readFileSync(join(work, 'runs/r/eval-test.json'), 'utf8');
    const e = cxr(['eval', '--run', 'runs/r', '--data', 'other']);
    expect(e.code, e.stderr).toBe(0);
    expect(readFileSync(join(work, 'runs/r/eval-test.json'), 'utf8')).toBe(own);
    const [file] = readdirSync(join(work, 'runs/r')).filter((f) => f.startsWith('eval-test-on-other-'));
    expect(e.stdout).toContain(`written to runs/r/${file}`);
    expect(readJson(`runs/r/${file}`).evaluatedOn).toEqual({ data: join(work, 'other'), split: 'test', runsOwnSplits: false, splitAsTheRun: false });
  }, 120_000);
});
