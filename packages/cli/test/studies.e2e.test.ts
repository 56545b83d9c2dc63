// Real studies as researchers bring them, end to end through the CLI process with tiny images:
// a Kaggle-style 4-class folder cut to three classes, a Train/Test layout with NORMAL/PNEUMONIA
// (positive class, selection, early stop, kept checkpoints, a model file that works on its own),
// a patient manifest interrupted with Ctrl-C and resumed, and a researcher's grid file.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeDataset } from '@cxr/data';
import { readModelInfo } from '@cxr/models';

const root = resolve(import.meta.dirname, '../../..');
const tsx = join(root, 'node_modules/.bin/tsx');
const main = join(root, 'packages/cli/src/main.ts');
let work: string;
let synth: string;

function env(): NodeJS.ProcessEnv {
  return { ...process.env, CXR_CACHE: join(work, 'cache') };
}

function cxr(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(tsx, [main, ...args], { cwd: work, encoding: 'utf8', timeout: 600_000, env: env() });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const tiny = ['--arch', 'resnet18', '--weights', 'none', '--image-size', '32', '--batch-size', '8', '--optimizer', 'sgd', '--lr', '0.01', '--seed', '3'];

/** Copies the synthetic images of `cls` in every split into `dest` (n files at most). */
function copyClass(cls: 'infected' | 'normal', dest: string, n: number, from = synth): string[] {
  mkdirSync(dest, { recursive: true });
  const files = ['train', 'val', 'test'].flatMap((s) => readdirSync(join(from, s, cls)).map((f) => join(from, s, cls, f))).slice(0, n);
  return files.map((f, i) => {
    const to = join(dest, `${i}${f.slice(f.lastIndexOf('.'))}`);
    copyFileSync(f, to);
    return to;
  });
}

function metricsOf(dir: string) {
  return JSON.parse(readFileSync(join(work, dir, 'metrics.json'), 'utf8'));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cxr-studies-'));
  synth = join(work, 'synth');
  await synthesizeDataset({ out: synth, perClass: 16, size: 40, seed: 4 });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('Kaggle COVID-19 Radiography layout, three classes end to end', () => {
  it('keeps three of four classes, ignores masks, reports per class with an N×N confusion matrix', () => {
    const kaggle = join(work, 'kaggle');
    copyClass('infected', join(kaggle, 'COVID', 'images'), 16);
    copyClass('normal', join(kaggle, 'Normal', 'images'), 16);
    copyClass('infected', join(kaggle, 'Viral Pneumonia', 'images'), 16);
    copyClass('normal', join(kaggle, 'Lung_Opacity', 'images'), 6);
    copyClass('normal', join(kaggle, 'COVID', 'masks'), 16);
    writeFileSync(join(kaggle, 'COVID.metadata.xlsx'), 'not an image');
    const r = cxr([
      'train',
      '--data',
      kaggle,
      '--classes',
      'COVID=covid-19,Normal=normal,Viral Pneumonia=pneumonia',
      '--epochs',
      '1',
      '--class-weights',
      'auto',
      '--balanced',
      '--out',
      'runs/three',
      ...tiny,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/class weights \(auto\): covid-19 [\d.]+, normal [\d.]+, pneumonia [\d.]+/);
    expect(r.stdout).toMatch(/class-balanced sampling/);
    expect(r.stdout).toMatch(/decoded-image cache: .*cache.images \(.*cap 10 GB via --cache-max-gb/);
    expect(r.stdout).toMatch(/classes: 0=covid-19, 1=normal, 2=pneumonia/);
    expect(r.stdout).toMatch(/left out by --classes: Lung_Opacity \(6 images\)/);
    expect(r.stdout).toMatch(/ignored 1 folder\(s\) that are not classes or images \(16 files\): COVID\/masks/);
    // not a terminal: plain progress lines, no redrawn bar
    expect(r.stdout).toMatch(/^epoch 1\/1 train 100% \| \d+\/\d+ img/m);
    expect(r.stdout).not.toMatch(/\r/);
    const m = metricsOf('runs/three');
    expect(m.classes).toEqual(['covid-19', 'normal', 'pneumonia']);
    expect(m.positiveClass).toBeNull();
    const test = m.splits.test;
    expect(test.perClass.map((c: { name: string }) => c.name)).toEqual(['covid-19', 'normal', 'pneumonia']);
    expect(test.confusion.matrix).toHaveLength(3);
    expect(test.confusion.matrix.every((row: number[]) => row.length === 3)).toBe(true);
    expect(test.aucMethod).toBe('ovr-macro');
    const report = readFileSync(join(work, 'runs/three/report.md'), 'utf8');
    expect(report).toMatch(/### Per class[\s\S]*\| pneumonia \|[\s\S]*macro average/);
    expect(report).toMatch(/one-vs-rest macro average over 3 classes/);
    // a successful run keeps the model and the metrics, not the resume checkpoints
    const files = readdirSync(join(work, 'runs/three'));
    expect(files).toContain('model.safetensors');
    for (const f of files) expect(f).not.toMatch(/^(last|optimizer|best)[.-].*safetensors$|^trainer\.json$/);
    expect(readModelInfo(join(work, 'runs/three/model.safetensors'))!.classes).toEqual(['covid-19', 'normal', 'pneumonia']);
    expect(readFileSync(join(work, 'runs/three/confusion.png')).subarray(1, 4).toString()).toBe('PNG');
    const config = JSON.parse(readFileSync(join(work, 'runs/three/config.json'), 'utf8'));
    expect([config.classWeights, config.balanced]).toEqual(['auto', true]);
    // its checkpoints are gone, so it cannot be resumed: said plainly instead of silently starting over
    const again = cxr(['train', '--out', 'runs/three', '--resume', '--epochs', '2']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/finished run whose checkpoints were deleted after it succeeded \(keep them with --keep-checkpoints\)/);
  });

  it('a --classes name that matches no folder stops with the folders found', () => {
    const r = cxr(['train', '--data', join(work, 'kaggle'), '--classes', 'COVID,Pneumonia', '--epochs', '1', '--out', 'runs/nope', ...tiny]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^cxr: --classes: no class 'Pneumonia' in .*kaggle; found 'COVID', 'Lung_Opacity', 'Normal', 'Viral Pneumonia'$/m);
    expect(existsSync(join(work, 'runs/nope/metrics.json'))).toBe(false);
  });
});

describe('Train/Test with NORMAL and PNEUMONIA', () => {
  const data = () => join(work, 'pneumonia');
  beforeAll(() => {
    copyClass('normal', join(data(), 'Train', 'NORMAL'), 24);
    copyClass('infected', join(data(), 'Train', 'PNEUMONIA'), 24);
    copyClass('normal', join(data(), 'Test', 'NORMAL'), 6);
    copyClass('infected', join(data(), 'Test', 'PNEUMONIA'), 6);
  });

  it('carves validation from Train, takes PNEUMONIA as positive, stops early, keeps checkpoints on request', () => {
    // lr so small that nothing changes, backbone frozen (batch-norm statistics too): no epoch beats the first
    const r = cxr([
      'train',
      '--data',
      data(),
      '--epochs',
      '4',
      '--patience',
      '1',
      '--select-by',
      'val-loss',
      '--freeze',
      'backbone',
      '--keep-checkpoints',
      '--out',
      'runs/pn',
      ...tiny,
      '--lr',
      '1e-12',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/split folders Train→train, Test→test; val carved from train/);
    expect(r.stdout).toMatch(/stopping early/);
    const m = metricsOf('runs/pn');
    expect(m.positiveClass).toBe('PNEUMONIA');
    expect(m.splits.test.positiveClass).toBe('PNEUMONIA');
    expect(m.selectBy).toBe('val-loss');
    expect(m.bestEpoch).toBe(1);
    expect(m.epochsRun).toBe(2);
    expect(m.stoppedEarly).toBe(true);
    expect(readFileSync(join(work, 'runs/pn/history.csv'), 'utf8').trim().split('\n')).toHaveLength(3);
    expect(existsSync(join(work, 'runs/pn/trainer.json'))).toBe(true);
  });

  it('the model file works on its own: predict --model and eval --model after moving it', () => {
    const moved = join(work, 'elsewhere', 'pneumonia-model.safetensors');
    mkdirSync(join(work, 'elsewhere'), { recursive: true });
    copyFileSync(join(work, 'runs/pn/model.safetensors'), moved);
    const info = readModelInfo(moved)!;
    expect(info).toMatchObject({
      arch: 'resnet18',
      head: 'replace',
      classes: ['NORMAL', 'PNEUMONIA'],
      positiveClass: 'PNEUMONIA',
      inputSize: 32,
      resizeSize: 37,
      resizeFilter: 'bicubic',
      crop: 'center',
      channels: 'grey-to-rgb',
    });
    const images = readdirSync(join(data(), 'Test', 'PNEUMONIA')).map((f) => join(data(), 'Test', 'PNEUMONIA', f));
    const p = cxr(['predict', '--model', moved, '--json', ...images]);
    expect(p.code, p.stderr).toBe(0);
    const preds = JSON.parse(p.stdout) as { label: string; probs: number[] }[];
    expect(preds).toHaveLength(images.length);
    for (const q of preds) expect(['NORMAL', 'PNEUMONIA']).toContain(q.label);
    const e = cxr(['eval', '--model', moved, '--data', data(), '--split', 'test']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/Recall \/ sensitivity \(PNEUMONIA\)/);
  });

  it('a model file without metadata is refused with the flags to give', () => {
    const bare = join(work, 'bare.safetensors');
    const r0 = spawnSync(
      tsx,
      [
        '-e',
        `import { readSafetensors, writeSafetensorsFile } from '@cxr/models'; writeSafetensorsFile(${JSON.stringify(bare)}, readSafetensors(${JSON.stringify(join(work, 'runs/pn/model.safetensors'))}));`,
      ],
      { cwd: join(root, 'packages/cli'), encoding: 'utf8' },
    );
    expect(r0.status, r0.stderr).toBe(0);
    const r = cxr(['predict', '--model', bare, join(data(), 'Test', 'NORMAL', readdirSync(join(data(), 'Test', 'NORMAL'))[0])]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no CXR metadata.*--weights .* --arch .* --head .* --classes/);
  });

  it('two classes where neither is named like a negative finding: the run asks for --positive', () => {
    const pets = join(work, 'pets');
    copyClass('normal', join(pets, 'cats'), 12);
    copyClass('infected', join(pets, 'dogs'), 12);
    const r = cxr(['train', '--data', pets, '--epochs', '1', '--out', 'runs/pets', ...tiny]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot tell which of 'cats' and 'dogs' is the positive class; pass --positive cats or --positive dogs/);
  });
});

describe('a manifest with patient groups, interrupted with Ctrl-C and resumed', () => {
  it('splits by patient, exits 130 on SIGINT with the resume hint, and --resume finishes', async () => {
    const rows = ['path,label,group'];
    for (const cls of ['infected', 'normal'] as const) {
      for (const s of ['train', 'val', 'test']) {
        readdirSync(join(synth, s, cls)).forEach((f, i) => rows.push(`synth/${s}/${cls}/${f},${cls},${cls}-${s}-p${Math.floor(i / 2)}`));
      }
    }
    writeFileSync(join(work, 'patients.csv'), rows.join('\n') + '\n');
    const args = ['train', '--data', work, '--manifest', 'patients.csv', '--epochs', '30', '--out', 'runs/ctrlc', ...tiny];
    // One process (node with tsx's loader), not the tsx CLI wrapper, so the signal and the exit code are the CLI's own.
    const loader = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
    const child = spawn(process.execPath, ['--import', loader, main, ...args], { cwd: work, env: env() });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    await new Promise<void>((res) =>
      child.stdout.on('data', (d) => {
        stdout += d;
        if (/epoch 1\/30: /.test(stdout)) res(); // one epoch done and checkpointed
      }),
    );
    expect(stdout).toMatch(/groups \(patients\): train \d+, val \d+, test \d+/);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/cxr train --out runs\/ctrlc --resume/);
    const r = cxr(['train', '--out', 'runs/ctrlc', '--resume', '--epochs', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(metricsOf('runs/ctrlc').epochsRun).toBe(2);
  });

  it('a manifest row whose file is missing is named with its line number', () => {
    writeFileSync(join(work, 'broken.csv'), 'path,label\nsynth/nope.png,normal\n');
    const r = cxr(['train', '--data', work, '--manifest', 'broken.csv', '--out', 'runs/broken', ...tiny]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broken\.csv line 2: image 'synth\/nope\.png' not found/);
  });
});

describe("a researcher's own grid", () => {
  it('experiments run --grid then report --out finds the runs there', () => {
    writeFileSync(
      join(work, 'grid.yaml'),
      `data: ${synth}\narch: resnet18\nweights: none\nimage-size: 32\nbatch-size: 8\nepochs: 1\noptimizer: sgd\nlr: [0.01, 0.001]\n`,
    );
    const r = cxr(['experiments', 'run', '--grid', 'grid.yaml', '--out', 'runs/grid']);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(work, 'runs/grid')).sort()).toEqual(['lr-1e-2', 'lr-1e-3']);
    const rep = cxr(['experiments', 'report', '--grid', 'grid.yaml', '--out', 'runs/grid']);
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.stdout).toMatch(/2 of 2 runs finished/);
    expect(readFileSync(join(work, 'runs/grid/report.md'), 'utf8')).toMatch(/\| lr-1e-2 \|[\s\S]*\| lr-1e-3 \|/);
  });
});
