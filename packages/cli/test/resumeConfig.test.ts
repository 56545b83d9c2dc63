// `train --out R --resume` takes the run's own config.json; before, omitted flags took the
// defaults (a 32 px run on real X-rays continued at 64 px on the synthetic set).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resumeConfig } from '../src/config/resumeConfig.ts';
import { resolveTrainArgs } from '../src/config/trainCommand.ts';
import { writeRunConfig } from '../src/run/runFolder.ts';
import { defaultTrainConfig } from '../src/config/trainConfig.ts';

function runWith(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'cxr-resume-'));
  writeRunConfig(dir, { ...defaultTrainConfig, ...config, out: dir });
  return dir;
}

async function resolve(args: string[]) {
  const r = await resolveTrainArgs(args, { fileExists: () => true });
  return r!;
}

describe('resume takes the stored config', () => {
  it("a bare --resume continues with the run's data, size and settings, not the defaults", async () => {
    const dir = runWith({ data: '/x/real-xrays', imageSize: 32, lr: 0.01, arch: 'resnet34', epochs: 4 });
    const { config, sources } = await resolve(['--out', dir, '--resume']);
    expect(config.imageSize).toBe(defaultTrainConfig.imageSize); // what the flags alone would train
    const c = resumeConfig(config, sources);
    expect([c.data, c.imageSize, c.lr, c.arch, c.epochs, c.resume, c.out]).toEqual(['/x/real-xrays', 32, 0.01, 'resnet34', 4, true, dir]);
  });
  it('a flag that contradicts the run is refused with the difference named', async () => {
    const dir = runWith({ data: '/x/real-xrays', imageSize: 32 });
    const { config, sources } = await resolve(['--out', dir, '--resume', '--image-size', '64', '--data', 'data/other']);
    expect(() => resumeConfig(config, sources)).toThrow(
      '--resume continues ' +
        dir +
        ' with its own config.json, but --data data/other (the run has /x/real-xrays), --image-size 64 (the run has 32); drop those flags',
    );
  });
  it('a flag equal to the stored value is fine; --epochs extends the run and says so', async () => {
    const dir = runWith({ imageSize: 32, epochs: 2 });
    const { config, sources } = await resolve(['--out', dir, '--resume', '--image-size', '32', '--epochs', '5']);
    const said: string[] = [];
    expect(resumeConfig(config, sources, (m) => said.push(m)).epochs).toBe(5);
    expect(said).toEqual(['resume: --epochs 2 -> 5 (recorded in config.json)']);
  });
  it('--workers says how to run, not what is trained: taken from the flag, and runs from before the flag resume', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cxr-resume-'));
    const { workers: _, ...older } = { ...defaultTrainConfig, imageSize: 32, out: dir };
    writeRunConfig(dir, older as typeof defaultTrainConfig);
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).not.toContain('workers');
    const { config, sources } = await resolve(['--out', dir, '--resume', '--workers', '4']);
    expect(resumeConfig(config, sources).workers).toBe('4');
    const bare = await resolve(['--out', dir, '--resume']);
    expect(resumeConfig(bare.config, bare.sources).workers).toBe('auto');
  });
  it('no config.json: a clear refusal', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'cxr-resume-')), 'none');
    const { config, sources } = await resolve(['--out', dir, '--resume']);
    expect(() => resumeConfig(config, sources)).toThrow(/cannot resume .*: it has no config\.json/);
  });
});
