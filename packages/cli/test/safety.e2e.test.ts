// End to end through the CLI process, for the failures a hostile-but-fair probe found (issue 10):
// --force emptying a folder before the inputs were checked, a run hanging after an error mid-epoch,
// a trailing batch of one, and a bare `--resume` continuing on the defaults instead of the run's
// config. Tiny images, few files, 2 epochs at most: CI time matters.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeDataset } from '@cxr/data';

const root = resolve(import.meta.dirname, '../../..');
const tsx = join(root, 'node_modules/.bin/tsx');
const main = join(root, 'packages/cli/src/main.ts');
let work: string;
let data: string;

function cxr(args: string[], env: Record<string, string> = {}, timeout = 240_000) {
  const t0 = performance.now();
  const r = spawnSync(tsx, [main, ...args], { cwd: work, encoding: 'utf8', timeout, env: { ...process.env, CXR_CACHE: join(work, 'cache'), ...env } });
  return { code: r.status ?? -1, signal: r.signal, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - t0) / 1000 };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cxr-safety-'));
  data = join(work, 'data');
  // 6 training images (3 per class), 2 val, 2 test.
  await synthesizeDataset({ out: data, perClass: 5, size: 40, seed: 2 });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const tiny = ['--arch', 'resnet18', '--weights', 'none', '--image-size', '32', '--optimizer', 'sgd', '--lr', '0.01', '--seed', '1'];

describe('nothing lost', () => {
  it('--force never deletes before the inputs are checked, and never what a run did not write', () => {
    // Before: `--data /x/missing --out /x --force` emptied /x (notes, the dataset) and only then
    // reported the missing data folder.
    const out = join(work, 'thesis');
    mkdirSync(join(out, 'dataset'), { recursive: true });
    writeFileSync(join(out, 'thesis.tex'), '\\documentclass{article}');
    writeFileSync(join(out, 'dataset', 'scan.png'), 'x');
    const r = cxr(['train', '--data', join(out, 'missing'), '--out', out, '--force', ...tiny, '--epochs', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not a CXR run folder \(no config\.json or trainer\.json\) but holds dataset, thesis\.tex; nothing was changed/);
    expect(readdirSync(join(out, 'dataset'))).toEqual(['scan.png']);
    // A run folder with the user's notes in it: a bad --data leaves it whole too.
    writeFileSync(join(out, 'config.json'), '{}');
    writeFileSync(join(out, 'history.csv'), 'epoch\n');
    const again = cxr(['train', '--data', join(out, 'missing'), '--out', out, '--force', ...tiny, '--epochs', '1']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/--data .*missing: no such folder/);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'dataset', 'history.csv', 'thesis.tex']);
  });
});

describe('no hangs', () => {
  it('an error in the middle of an epoch ends the process (it used to hang on the bar and the workers)', () => {
    // Batch norm cannot train on a batch of one: the first step throws.
    const r = cxr(['train', '--data', data, '--out', 'runs/one', ...tiny, '--batch-size', '1', '--epochs', '1'], {}, 120_000);
    expect(r.signal, 'killed by the timeout: the process hung').toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^cxr: .*batch/im);
    expect(existsSync(join(work, 'runs/one/.cxr-train.lock')), 'the run lock is released').toBe(false);
  });
});

describe('honest resume', () => {
  it('a trailing batch of one is dropped and said once; a bare --resume continues the run\'s own config', () => {
    const dir = join(work, 'runs/r');
    // 6 training images in batches of 5 leave a last batch of one.
    const first = cxr(['train', '--data', data, '--out', 'runs/r', ...tiny, '--batch-size', '5', '--epochs', '2'], { CXR_KILL_AFTER_EPOCH: '1' });
    expect(first.signal === 'SIGKILL' || first.code === 137, `${first.code} ${first.signal} ${first.stderr}`).toBe(true);
    expect(first.stdout.match(/dropped each epoch \(drop_last\)/g)).toHaveLength(1);
    expect(first.stdout).toMatch(/epoch 1\/2 train .*\| 5\/5 img/);
    expect(existsSync(join(dir, '.cxr-train.lock')), 'SIGKILL leaves the lock behind').toBe(true);
    // The form the README shows: no flags but --out and --resume. Before, this trained the
    // built-in synthetic set at 64 px with the default optimizer and called the run finished.
    const r = cxr(['train', '--out', 'runs/r', '--resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/removing a stale lock of pid \d+ \(no longer running\)/);
    expect(r.stdout).toMatch(/resuming .* after epoch 1 \(of 2\)/);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect([config.data, config.imageSize, config.optimizer, config.batchSize, config.epochs]).toEqual([data, 32, 'sgd', 5, 2]);
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(report).toContain(data);
    expect(report).toMatch(/image size \| 32/);
    expect(existsSync(join(work, 'data/synthetic')), 'the default dataset was not made').toBe(false);
    // A contradicting flag is refused with the difference; --epochs extends.
    const bad = cxr(['train', '--out', 'runs/r', '--resume', '--image-size', '64']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--image-size 64 \(the run has 32\)/);
  });
});
