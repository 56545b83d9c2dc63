// End to end through the CLI process, for the failures a hostile-but-fair probe found (issue 10):
// --force emptying a folder before the inputs were checked, a run hanging after an error mid-epoch,
// a trailing batch of one, and a bare `--resume` continuing on the defaults instead of the run's
// config. Tiny images, few files, 2 epochs at most: CI time matters.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeDataset } from '@cxr/data';
import { lockRunFolder } from '../src/run/runLock.ts';

const root = resolve(import.meta.dirname, '../../..');
const tsx = join(root, 'node_modules/.bin/tsx');
const main = join(root, 'packages/cli/src/main.ts');
let work: string;
let data: string;
let dataBad: string;

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
  // The same set plus one test file that is not an image.
  dataBad = join(work, 'data-bad');
  cpSync(data, dataBad, { recursive: true });
  writeFileSync(join(dataBad, 'test/normal/broken.png'), 'this is not a PNG at all');
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

describe('signals', () => {
  it('SIGTERM mid-run gives the cursor and the lock back, says how to resume, and ends the process', async () => {
    // One process, as the installed `cxr` bin runs: tsx's own CLI would SIGKILL a trainer whose
    // event loop is busy in a GPU call for more than 5 s, before its handler gets to run.
    const child = spawn(
      process.execPath,
      [
        '--import',
        join(root, 'node_modules/tsx/dist/esm/index.mjs'),
        main,
        'train',
        '--data',
        data,
        '--out',
        'runs/term',
        ...tiny,
        '--batch-size',
        '2',
        '--epochs',
        '50',
      ],
      { cwd: work, env: { ...process.env, CXR_CACHE: join(work, 'cache') } },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    // 'close', not 'exit': stderr may still hold the last line when the process has exited.
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no epoch finished: ${stdout} ${stderr}`)), 150_000);
      void exited.then((c) => reject(new Error(`ended (${c}) before the first epoch: ${stderr}`)));
      child.stdout.on('data', (d) => {
        stdout += d;
        if (/epoch +1\/50: /.test(stdout)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGTERM');
    const t0 = performance.now();
    const code = await exited;
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(code).toBe(143);
    expect(stderr).toMatch(/cxr: interrupted \(SIGTERM\); continue with: cxr train --out runs\/term --resume/);
    expect(existsSync(join(work, 'runs/term/.cxr-train.lock'))).toBe(false);
  });
});

describe('divergence', () => {
  it('--lr 10 stops at the first absurd loss, saying so (it used to finish with "accuracy 50%, AUC 0.500")', () => {
    const r = cxr([
      'train',
      '--data',
      data,
      '--out',
      'runs/lr10',
      '--arch',
      'resnet18',
      '--weights',
      'none',
      '--image-size',
      '32',
      '--batch-size',
      '2',
      '--epochs',
      '3',
      '--optimizer',
      'sgd',
      '--momentum',
      '0.9',
      '--lr',
      '10',
      '--seed',
      '1',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^cxr: training diverged: the training loss is \S+ at epoch 1, batch \d+ .*lower the learning rate \(--lr 10, try 1\)$/m);
    expect(existsSync(join(work, 'runs/lr10/metrics.json'))).toBe(false);
  });
});

describe('honest resume', () => {
  it("a trailing batch of one is dropped and said once; a bare --resume continues the run's own config", () => {
    const dir = join(work, 'runs/r');
    // 6 training images in batches of 5 leave a last batch of one. One test image is garbage.
    const first = cxr(['train', '--data', dataBad, '--out', 'runs/r', ...tiny, '--batch-size', '5', '--epochs', '2', '--skip-bad-images'], {
      CXR_KILL_AFTER_EPOCH: '1',
    });
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
    expect([config.data, config.imageSize, config.optimizer, config.batchSize, config.epochs]).toEqual([dataBad, 32, 'sgd', 5, 2]);
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(report).toContain(dataBad);
    expect(report).toMatch(/image size \| 32/);
    expect(existsSync(join(work, 'data/synthetic')), 'the default dataset was not made').toBe(false);
    // The undecodable test image is recorded, not silently dropped.
    const metrics = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
    expect(metrics.skipped.test.map((f: { file: string }) => f.file)).toEqual([join(dataBad, 'test/normal/broken.png')]);
    expect(metrics.splits.test.n).toBe(2);
    expect(report).toMatch(/## Skipped images[\s\S]*\*\*Test\*\*: 1 file\(s\)[\s\S]*broken\.png/);
    // A contradicting flag is refused with the difference.
    const bad = cxr(['train', '--out', 'runs/r', '--resume', '--image-size', '64']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--image-size 64 \(the run has 32\)/);
  });

  it('--force against a live run is refused by its lock; nothing is deleted under it', () => {
    const dir = join(work, 'runs/r');
    const lock = lockRunFolder(dir); // this test process plays the live run
    const before = readdirSync(dir).sort();
    try {
      const r = cxr(['train', '--data', dataBad, '--out', 'runs/r', ...tiny, '--epochs', '1', '--force', '--skip-bad-images']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`runs/r is in use by another cxr train \\(pid ${process.pid}, started`));
      expect(readdirSync(dir).sort()).toEqual(before);
    } finally {
      lock.release();
    }
  });

  it('an undecodable validation/test image stops a run unless --skip-bad-images', () => {
    const r = cxr(['train', '--data', dataBad, '--out', 'runs/bad', ...tiny, '--epochs', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 validation\/test image\(s\) cannot be decoded: .*broken\.png .*pass --skip-bad-images/);
    expect(existsSync(join(work, 'runs/bad')), 'nothing written').toBe(false);
  });
});

describe('--dedupe', () => {
  it('drops a cross-split copy from the smaller split and the run completes without it (it crashed after epoch 1)', () => {
    const dup = join(work, 'data-dup');
    cpSync(data, dup, { recursive: true });
    const [first] = readdirSync(join(dup, 'train/infected')).sort();
    cpSync(join(dup, 'train/infected', first), join(dup, 'test/infected', `copy-${first}`));
    const r = cxr(['train', '--data', dup, '--out', 'runs/dedupe', ...tiny, '--epochs', '1', '--dedupe']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--dedupe: dropped 1 cross-split duplicate/);
    const metrics = JSON.parse(readFileSync(join(work, 'runs/dedupe/metrics.json'), 'utf8'));
    // 2 test images before the copy: the copy is neither evaluated nor trained twice.
    expect(metrics.splits.test.n).toBe(2);
    expect(metrics.splits.train.n).toBe(6);
  });
});

describe('validation images that pass the header check but do not decode', () => {
  it('stop the run at the first validation pass, or with --skip-bad-images when none is left', () => {
    // Headers intact, image data cut off: only the decoder finds out.
    const cut = join(work, 'data-cut');
    cpSync(data, cut, { recursive: true });
    for (const c of ['infected', 'normal']) {
      for (const f of readdirSync(join(cut, 'val', c))) {
        const p = join(cut, 'val', c, f);
        const bytes = readFileSync(p);
        // PNG: signature and IHDR kept; JPEG: up to past its frame header, without the end marker.
        writeFileSync(p, bytes.subarray(0, f.endsWith('.png') ? 60 : Math.floor(bytes.length * 0.6)));
      }
    }
    const strict = cxr(['train', '--data', cut, '--out', 'runs/cut', ...tiny, '--epochs', '1']);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/\d+ validation image\(s\) cannot be decoded: .*pass --skip-bad-images/);
    const lenient = cxr(['train', '--data', cut, '--out', 'runs/cut2', ...tiny, '--epochs', '1', '--skip-bad-images']);
    expect(lenient.code).toBe(1);
    expect(lenient.stderr).toMatch(/no validation image could be decoded at epoch 1 \(\d+ skipped\); the run stops here/);
    expect(existsSync(join(work, 'runs/cut2/metrics.json'))).toBe(false);
  });
});

describe("eval and predict meet the model's classes and size", () => {
  it("eval refuses data whose class names differ from the run's (metrics would be inverted)", () => {
    const other = join(work, 'swapped');
    for (const split of ['val', 'test']) {
      for (const [from, to] of [
        ['infected', 'covid'],
        ['normal', 'normal'],
      ]) {
        mkdirSync(join(other, split, to), { recursive: true });
        for (const f of readdirSync(join(data, split, from))) writeFileSync(join(other, split, to, f), readFileSync(join(data, split, from, f)));
      }
    }
    const r = cxr(['eval', '--run', 'runs/r', '--data', other]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/class names differ: runs\/r was trained on \[infected, normal\] but --data .*swapped has \[covid, normal\]/);
  });

  it('eval of a split that lost images fails unless --skip-bad-images, and then records them', () => {
    const r = cxr(['eval', '--run', 'runs/r', '--split', 'test']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 image\(s\) of the test split could not be decoded, so the metrics would silently cover 2 of 3 images/);
    const ok = cxr(['eval', '--run', 'runs/r', '--split', 'test', '--skip-bad-images']);
    expect(ok.code, ok.stderr).toBe(0);
    const m = JSON.parse(readFileSync(join(work, 'runs/r/eval-test.json'), 'utf8'));
    expect([m.n, m.skipped.length]).toEqual([2, 1]);
  });

  it('predict --weights FILE takes classes and input size from the file; one bad file does not sink the others', () => {
    const weights = join(work, 'runs/r/model.safetensors');
    const good = join(data, 'test/normal', readdirSync(join(data, 'test/normal'))[0]);
    const fifo = join(work, 'pipe.png');
    spawnSync('mkfifo', [fifo]);
    const r = cxr(['predict', '--weights', weights, '--json', good, join(work, 'missing.png'), fifo], {}, 120_000);
    expect(r.signal, 'a FIFO must not block').toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/missing\.png: no such file/);
    expect(r.stderr).toMatch(/pipe\.png: not a regular file/);
    expect(r.stderr).toMatch(/2 of 3 file\(s\) could not be read or decoded .*the other 1 were predicted/);
    expect(r.stderr).not.toMatch(/does not record/);
    const preds = JSON.parse(r.stdout);
    expect(preds.map((p: { file: string }) => p.file)).toEqual([good]);
    expect(['infected', 'normal']).toContain(preds[0].label); // not the old infected,normal guess by index: the run's names
    const at32 = cxr(['predict', '--weights', weights, '--json', '--image-size', '32', good]);
    expect(JSON.parse(at32.stdout)[0].logits).toEqual(preds[0].logits); // the recorded 32 px, not 224
  });

  it('--image-size is validated for predict and eval', () => {
    const weights = join(work, 'runs/r/model.safetensors');
    for (const [size, message] of [
      ['-5', /--image-size must be a whole number from 1 to 1024 \(e\.g\. 224\), got '-5'/],
      ['3000', /--image-size must be a whole number from 1 to 1024/],
      ['8', /--image-size 8 is too small for resnet18/],
    ] as const) {
      const r = cxr(['predict', '--weights', weights, '--image-size', size, join(work, 'x.png')]);
      expect(r.code, size).toBe(2); // a usage error (issue 12: usage 2, runtime 1)
      expect(r.stderr).toMatch(message);
    }
    const e = cxr(['eval', '--run', 'runs/r', '--image-size', '3000']);
    expect(e.stderr).toMatch(/--image-size must be a whole number from 1 to 1024/);
  });
});
