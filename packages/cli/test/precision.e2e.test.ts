// --precision f16 through the real CLI process: a mixed-precision run writes its artefacts, keeps
// the loss scale in its checkpoint, and a run killed after epoch 1 resumes to the same weights as
// an uninterrupted one (the loss scale included). Tiny images, 2 epochs: CI time matters.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeDataset } from '@cxr/data';
import { openSafetensors } from '@cxr/models';

const root = resolve(import.meta.dirname, '../../..');
const tsx = join(root, 'node_modules/.bin/tsx');
const main = join(root, 'packages/cli/src/main.ts');
let work: string;
let data: string;

function cxr(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(tsx, [main, ...args], { cwd: work, encoding: 'utf8', timeout: 600_000, env: { ...process.env, CXR_CACHE: join(work, 'cache'), ...env } });
  return { code: r.status ?? -1, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function weightsOf(file: string): Map<string, Buffer> {
  const f = openSafetensors(file);
  try {
    return new Map(f.tensors.map((t) => [t.name, Buffer.from((t.load().data as Float32Array).buffer)]));
  } finally {
    f.close();
  }
}

const run = ['--arch', 'resnet18', '--weights', 'none', '--image-size', '32', '--batch-size', '4', '--epochs', '2', '--lr', '1e-3', '--seed', '5'];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cxr-f16-'));
  data = join(work, 'data');
  await synthesizeDataset({ out: data, perClass: 8, size: 40, seed: 4 });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('cxr train --precision f16', () => {
  it('trains in mixed precision, checkpoints the loss scale, and resumes after a kill to the weights of an uninterrupted run', () => {
    const a = cxr(['train', '--data', data, '--out', 'runs/a', ...run, '--precision', 'f16', '--keep-checkpoints']);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/mixed precision \(--precision f16\): float16 activations, float32 master weights, loss scale 65536/);
    const dirA = join(work, 'runs/a');
    expect(JSON.parse(readFileSync(join(dirA, 'config.json'), 'utf8')).precision).toBe('f16');
    const trainer = JSON.parse(readFileSync(join(dirA, 'trainer.json'), 'utf8'));
    // A random-init ResNet overflows float16 gradients at the starting scale: those steps are
    // skipped, each epoch's count said in the log, and each skip halves the scale, which the checkpoint keeps.
    const skipped = [...a.stdout.matchAll(/epoch (\d): (\d+) of \d+ steps skipped by the loss scaler .*; loss scale now (\d+)/g)];
    const nSkipped = skipped.reduce((n, m) => n + Number(m[2]), 0);
    expect(trainer.gradScaler.scale).toBe(65536 / 2 ** nSkipped);
    if (skipped.length) expect(Number(skipped[skipped.length - 1][3])).toBe(trainer.gradScaler.scale);
    // 12 training images in batches of 4, 2 epochs: some of the 6 steps must have updated the weights.
    expect(nSkipped).toBeLessThan(6);
    const metrics = JSON.parse(readFileSync(join(dirA, 'metrics.json'), 'utf8'));
    expect(metrics.splits.test.n).toBeGreaterThan(0);
    expect(Number.isFinite(metrics.splits.test.accuracy)).toBe(true);

    const killed = cxr(['train', '--data', data, '--out', 'runs/b', ...run, '--precision', 'f16'], { CXR_KILL_AFTER_EPOCH: '1' });
    expect(killed.signal === 'SIGKILL' || killed.code === 137, `${killed.code} ${killed.signal} ${killed.stderr}`).toBe(true);
    const dirB = join(work, 'runs/b');
    const afterOne = skipped.find((m) => m[1] === '1');
    expect(JSON.parse(readFileSync(join(dirB, 'trainer.json'), 'utf8')).gradScaler.scale).toBe(afterOne ? Number(afterOne[3]) : 65536);
    const r = cxr(['train', '--out', 'runs/b', '--resume', '--keep-checkpoints']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/resuming .* after epoch 1/);
    expect(JSON.parse(readFileSync(join(dirB, 'trainer.json'), 'utf8')).gradScaler).toEqual(trainer.gradScaler);
    const wa = weightsOf(join(dirA, 'last.safetensors'));
    const wb = weightsOf(join(dirB, 'last.safetensors'));
    expect([...wb.keys()]).toEqual([...wa.keys()]);
    for (const [k, v] of wa) expect(Buffer.compare(v, wb.get(k)!), k).toBe(0);
    // The model file is float32, as any run's: eval needs no flag.
    const e = cxr(['eval', '--run', 'runs/a', '--split', 'test']);
    expect(e.code, e.stderr).toBe(0);
    expect(existsSync(join(dirA, 'model.safetensors'))).toBe(true);
  });
});
