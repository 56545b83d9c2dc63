// --model / --weights that are a folder or not a model file at all get a one-line error naming
// the flag and the problem (was: a bare EISDIR, or "no CXR metadata; describe it with --arch …").
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { modelSettings } from '../src/commands/evaluate.ts';

const work = mkdtempSync(join(tmpdir(), 'cxr-model-file-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('a folder given as --model or --weights', () => {
  expect(() => modelSettings({ model: work })).toThrow(`--model ${work}: not a file (a folder?)`);
  expect(() => modelSettings({ weights: work, arch: 'resnet18' })).toThrow(`--weights ${work}: not a file (a folder?)`);
});

it('an image saved as .safetensors is named as not a model file, not sent to --arch/--head', () => {
  const png = join(work, 'x.safetensors');
  writeFileSync(png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
  expect(() => modelSettings({ model: png })).toThrow(
    /--model .*x\.safetensors: not a model file \(neither safetensors nor a PyTorch checkpoint; it starts 89 50 4e 47/,
  );
});

it('a torch checkpoint still gets the advice to describe it with --weights', () => {
  const pth = join(import.meta.dirname, '../../models/test/fixtures/training_zip.pth');
  expect(() => modelSettings({ model: pth })).toThrow(/has no CXR metadata .* describe it with --weights/);
});
