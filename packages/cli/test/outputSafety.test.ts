// Fixes from the second CLI audit: explain reporting probabilities under contradicting --classes,
// explain overlays replacing each other and existing files, explain on a folder naming nothing,
// weights convert and data synth replacing existing files, grid run names that escape --out,
// predict's table pushing probabilities out from under their class headers.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSafetensorsFile } from '@cxr/models';
import { explainCommand } from '../src/commands/explain.ts';
import { overlayPaths } from '../src/commands/overlayNames.ts';
import { formatPredictionTable } from '../src/commands/predictionTable.ts';
import { expandGrid } from '../src/experiments/gridFile.ts';
import { main } from '../src/main.ts';
import { quietly } from './quietly.ts';

const work = mkdtempSync(join(tmpdir(), 'cxr-output-safety-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A model file that records arch, head, input size and classes (infected, normal); one dummy tensor. */
function recordedModel(): string {
  const file = join(work, 'model.safetensors');
  writeSafetensorsFile(file, new Map([['w', { dtype: 'float32' as const, shape: [1], data: new Float32Array(1) }]]), {
    arch: 'resnet18',
    head: 'replace',
    image_size: '32',
    classes: JSON.stringify(['infected', 'normal']),
  });
  return file;
}

function image(name: string): string {
  const file = join(work, name);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, 'x');
  return file;
}

describe('explain refuses before loading the model', () => {
  it('--classes in another order than the model records: every probability would carry the wrong name', async () => {
    await expect(explainCommand([image('a.png')], { model: recordedModel(), classes: 'normal,infected', json: true })).rejects.toThrow(
      /--classes normal,infected contradicts .*model\.safetensors, which was trained on infected,normal/,
    );
  });

  it('a folder among the images is named in a one-line error, not a bare EISDIR', async () => {
    const dir = join(work, 'scans');
    mkdirSync(dir, { recursive: true });
    await expect(explainCommand([image('a.png'), dir], { model: recordedModel(), json: true })).rejects.toThrow(
      `explain: ${dir}: not a regular file (a folder, FIFO or device); give image files`,
    );
  });

  it("an overlay that would replace an existing file (the user's, or a previous run's) unless --force", async () => {
    const out = join(work, 'cams');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'keep.gradcam.png'), 'my notes');
    await expect(explainCommand([image('keep.png')], { model: recordedModel(), out })).rejects.toThrow(
      /explain: 1 overlay file\(s\) already exist in .*cams \(keep\.gradcam\.png\); pass --force/,
    );
    expect(readFileSync(join(out, 'keep.gradcam.png'), 'utf8')).toBe('my notes');
  });
});

describe('explain --out', () => {
  it('that is a file fails before the model runs, naming the flag', async () => {
    const file = join(work, 'out-is-a-file');
    writeFileSync(file, 'x');
    await expect(explainCommand([image('c.png')], { model: recordedModel(), out: file })).rejects.toThrow(
      `explain: --out ${file} is a file; give a folder for the overlay PNGs`,
    );
  });
});

describe('explain overlay names', () => {
  it('two images with one base name get two files, in argument order', () => {
    expect(overlayPaths(['d1/x.png', 'd2/x.png', 'd3/x.jpg', 'y.png'], 'out')).toEqual([
      join('out', 'x.gradcam.png'),
      join('out', 'x-2.gradcam.png'),
      join('out', 'x-3.gradcam.png'),
      join('out', 'y.gradcam.png'),
    ]);
  });
});

describe('weights convert and data synth never replace existing files silently', () => {
  const checkpoint = join(import.meta.dirname, '../../models/test/fixtures/training_zip.pth');

  it('weights convert refuses an existing <out> (exit 1, file untouched) and replaces it with --force', async () => {
    const target = join(work, 'trained.safetensors');
    writeFileSync(target, 'trained weights');
    const refused = await quietly(() => main(['weights', 'convert', checkpoint, target]));
    expect(refused.value).toBe(1);
    expect(refused.err).toMatch(/weights convert: .*trained\.safetensors already exists; pass --force/);
    expect(readFileSync(target, 'utf8')).toBe('trained weights');
    const forced = await quietly(() => main(['weights', 'convert', '--force', checkpoint, target]));
    expect(forced.value, forced.err).toBe(0);
    expect(readFileSync(target, 'utf8')).not.toBe('trained weights');
  });

  it('data synth refuses a folder that already holds files: same-named images were replaced, the rest mixed in', async () => {
    const out = join(work, 'real');
    const xray = image('real/train/infected/infected_00000.png');
    const r = await quietly(() => main(['data', 'synth', '--out', out, '--per-class', '3', '--size', '32']));
    expect(r.value).toBe(1);
    expect(r.err).toMatch(/data synth: --out .*real is not empty \(1 entries\)/);
    expect(readFileSync(xray, 'utf8')).toBe('x');
  });
});

describe('grid run names are plain folder names under --out', () => {
  it.each([['../other-grid'], [''], ['.'], ['a/b'], ['.hidden']])('refuses %j', (name) => {
    expect(() => expandGrid({ runs: [{ name, lr: 0.001 }] }, 'g.yaml')).toThrow(/run name .* is not a plain folder name/);
  });

  it('refuses two names that are one folder on a case-insensitive file system', () => {
    expect(() => expandGrid({ runs: [{ name: 'Run1' }, { name: 'run1', lr: 0.01 }] }, 'g.yaml')).toThrow(/'Run1' and 'run1' differ only in case/);
  });

  it('still accepts ordinary names', () => {
    expect(expandGrid({ runs: [{ name: 'frozen_vgg16-1e.3' }] }, 'g.yaml').runs.map((r) => r.name)).toEqual(['frozen_vgg16-1e.3']);
  });
});

describe("predict's table", () => {
  it('keeps every probability under its class header, whatever the lengths of class names and labels', () => {
    const classes = ['covid', 'normal', 'viral_pneumonia'];
    const text = formatPredictionTable(
      [
        { file: 'a.png', label: 'viral_pneumonia', probs: [0.1, 0.2, 0.7] },
        { file: 'b.png', label: 'normal', probs: [0.2, 0.5, 0.3] },
      ],
      classes,
    );
    const [header, ...rows] = text.split('\n');
    expect(header).not.toMatch(/\)p\(/); // headers never run together
    for (const c of classes) {
      const end = header.indexOf(`p(${c})`) + `p(${c})`.length;
      // each row's value in that column ends where the header ends (right-aligned)
      for (const row of rows) expect(row.slice(end - 6, end)).toMatch(/^\d\.\d{4}$/);
    }
  });
});
