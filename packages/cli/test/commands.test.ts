// Commands that need no training: --version, env, cache info|clean, grid files and the cluster
// job scripts that run their shards (checked by running the scripts with a stub in place of cxr).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { cacheClean, cacheEntries, cacheInfo } from '../src/commands/cache.ts';
import { envReport } from '../src/commands/env.ts';
import { experimentsPlan } from '../src/commands/experiments.ts';
import { k8sManifest, slurmScript } from '../src/experiments/clusterPlan.ts';
import { expandGrid, loadGridFile } from '../src/experiments/gridFile.ts';
import { selectRuns } from '../src/experiments/runSelection.ts';
import type { Command } from 'commander';
import { buildProgram, main } from '../src/main.ts';

const work = mkdtempSync(join(tmpdir(), 'cxr-commands-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function captureStdout<T>(fn: () => Promise<T>): Promise<{ value: T; out: string }> {
  const chunks: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    chunks.push(a.join(' ') + '\n');
  });
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    chunks.push(String(s));
    return true;
  });
  return fn()
    .then((value) => ({ value, out: chunks.join('') }))
    .finally(() => {
      log.mockRestore();
      write.mockRestore();
    });
}

describe('cxr --version and env', () => {
  it('--version prints the package version and exits 0', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const { value, out } = await captureStdout(() => main(['--version']));
    expect(value).toBe(0);
    expect(out.trim()).toBe(pkg.version);
  });

  it('env names node, the webgpu binding, the adapter with limits, the cache and the ImageNet files', async () => {
    const cache = join(work, 'env-cache');
    mkdirSync(cache, { recursive: true });
    writeFileSync(join(cache, 'resnet18-f37072fd.pth'), 'x');
    const before = process.env.CXR_CACHE;
    process.env.CXR_CACHE = cache;
    try {
      const text = await envReport();
      expect(text).toContain(`node ${process.version}`);
      expect(text).toMatch(/webgpu \d+\.\d+\.\d+/);
      expect(text).toMatch(/adapter: .+/);
      expect(text).toMatch(/maxStorageBufferBindingSize\s+\d+/);
      expect(text).toMatch(/features: /);
      expect(text).toContain(`cache: ${cache} (from $CXR_CACHE)`);
      expect(text).toContain(`ImageNet resnet18: cached (${join(cache, 'resnet18-f37072fd.pth')})`);
      expect(text).toContain('ImageNet vgg16: not cached — cxr weights pull vgg16');
    } finally {
      if (before === undefined) delete process.env.CXR_CACHE;
      else process.env.CXR_CACHE = before;
    }
  });
});

describe('help and exit codes', () => {
  function allCommands(c: Command, path = 'cxr'): [string, Command][] {
    return [[path, c], ...c.commands.flatMap((s) => allCommands(s, `${path} ${s.name()}`))];
  }
  it('every command has a description, every option and argument a help text, and help ends with examples', () => {
    for (const [path, cmd] of allCommands(buildProgram())) {
      expect(cmd.description(), path).not.toBe('');
      for (const o of cmd.options) expect(o.description, `${path} ${o.flags}`).not.toBe('');
      for (const a of cmd.registeredArguments) expect(a.description, `${path} <${a.name()}>`).not.toBe('');
      let text = '';
      cmd.configureOutput({
        writeOut: (t) => {
          text += t;
        },
      });
      cmd.outputHelp();
      expect(text, path).toMatch(/\nExamples:\n( {2}\$ .*cxr.*\n){2,}/);
    }
  });
  it('usage errors exit 2, help and version 0', async () => {
    const quiet = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect((await captureStdout(() => main(['train', '--lr', 'x']))).value).toBe(2);
      expect((await captureStdout(() => main(['no-such-command']))).value).toBe(2);
      expect((await captureStdout(() => main(['cache']))).value).toBe(2);
      expect((await captureStdout(() => main(['train', '--help']))).value).toBe(0);
    } finally {
      quiet.mockRestore();
    }
  });
});

describe('cxr cache', () => {
  it('info sizes each part; clean removes the decoded images only, --all everything CXR wrote', () => {
    const dir = join(work, 'cache');
    mkdirSync(join(dir, 'images', 'ab'), { recursive: true });
    writeFileSync(join(dir, 'images', 'ab', 'k1.u8'), new Uint8Array(3000));
    writeFileSync(join(dir, 'images', 'ab', 'k2.u8'), new Uint8Array(1000));
    writeFileSync(join(dir, 'vgg16-397923af.pth'), new Uint8Array(500));
    writeFileSync(join(dir, 'matmul-tune.json'), '{}');
    mkdirSync(join(dir, 'shader-index'));
    writeFileSync(join(dir, 'shader-index', 'a.txt'), 'mesa x\n');
    const entries = cacheEntries(dir);
    expect(entries.find((e) => e.name === 'images')).toMatchObject({ bytes: 4000, files: 2 });
    const info = cacheInfo(dir);
    expect(info).toMatch(/images\s+3\.9 KB\s+2 file\(s\)\s+decoded chest X-rays/);
    expect(info).toMatch(/vgg16-397923af\.pth\s+500 B\s+1 file\(s\)\s+ImageNet weights/);
    expect(info).toMatch(/shader-index\s+7 B\s+1 file\(s\)\s+hashes of the shaders in Mesa's shader cache/);
    expect(cacheClean({}, dir)).toEqual({ freed: 4000, leftAlone: [] });
    expect(existsSync(join(dir, 'images'))).toBe(false);
    expect(existsSync(join(dir, 'vgg16-397923af.pth'))).toBe(true);
    expect(cacheClean({ all: true }, dir)).toEqual({ freed: 509, leftAlone: [] });
    expect(cacheEntries(dir)).toEqual([]);
  });
});

describe('grid files', () => {
  it('lists expand as a product, runs are named after what varies, variants merge over the base', () => {
    const g = expandGrid({ name: 'mine', data: 'd', arch: ['vgg16', 'resnet18'], lr: [1e-3, 1e-4], epochs: 4 }, 'g.yaml');
    expect(g.name).toBe('mine');
    expect(g.runs.map((r) => r.name)).toEqual(['vgg16_lr-1e-3', 'vgg16_lr-1e-4', 'resnet18_lr-1e-3', 'resnet18_lr-1e-4']);
    expect(g.runs[3].options).toEqual({ data: 'd', arch: 'resnet18', lr: 1e-4, epochs: 4 });
    expect(g.runs[0].description).toBe('arch vgg16, lr 1e-3');
    const v = expandGrid({ arch: 'resnet18', 'weight-decay': 0, runs: [{ name: 'frozen', freeze: 'backbone' }, { head: ['mlp:530', 'replace'] }] }, 'v.yaml');
    expect(v.runs.map((r) => r.name)).toEqual(['frozen', 'head-mlp-530', 'head-replace']);
    expect(v.runs[0].options).toEqual({ arch: 'resnet18', weightDecay: 0, freeze: 'backbone' });
    expect(selectRuns(g.runs, { only: 'vgg16_*', shard: '2/2' }).map((r) => r.name)).toEqual(['vgg16_lr-1e-4']);
    const named = expandGrid(
      {
        arch: ['vgg16', 'resnet18'],
        runs: [
          { name: 'frozen', freeze: 'backbone' },
          { name: 'unfrozen', freeze: 'none' },
        ],
      },
      'n.yaml',
    );
    expect(named.runs.map((r) => r.name)).toEqual(['frozen_vgg16', 'frozen_resnet18', 'unfrozen_vgg16', 'unfrozen_resnet18']);
  });

  it('refuses unknown keys, per-run folders set in the file, and clashing names, naming the file', () => {
    expect(() => expandGrid({ arch: 'vgg16', lerning_rate: [1] }, 'bad.yaml')).toThrow(/unknown key 'lerning_rate' in config file bad\.yaml/);
    expect(() => expandGrid({ arch: 'vgg16', out: 'x' }, 'o.yaml')).toThrow(/o\.yaml: 'out' is set per run/);
    expect(() => expandGrid({ runs: [{ name: 'a' }, { name: 'a' }] }, 'd.yaml')).toThrow(/two runs are named 'a'/);
    expect(() => loadGridFile(join(work, 'nope.yaml'))).toThrow(/grid file .*nope\.yaml not found/);
  });
});

describe('experiments plan: job arrays that run every shard', () => {
  const grid = join(work, 'my grid.yaml');
  writeFileSync(grid, 'arch: [vgg16, resnet18]\nlr: [1e-3, 1e-4, 1e-5]\n');
  const stub = join(work, 'stub-cxr.sh');
  writeFileSync(stub, '#!/bin/sh\necho "$@"\n', { mode: 0o755 });
  const base = { grid, out: join(work, 'runs'), name: 'my grid', profile: 'smoke' };

  it('SLURM: --array=1-N, and task i runs --shard i/N on the grid', () => {
    const script = slurmScript({ ...base, shards: 3, workdir: work });
    expect(script).toMatch(/^#!\/bin\/bash\n/);
    expect(script).toContain('#SBATCH --array=1-3');
    expect(script).toContain('#SBATCH --gres=gpu:1');
    expect(spawnSync('bash', ['-n'], { input: script }).status).toBe(0);
    for (let i = 1; i <= 3; i++) {
      const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, SLURM_ARRAY_TASK_ID: String(i), CXR: stub } });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(`experiments run --grid ${grid} --out ${join(work, 'runs')} --profile smoke --shard ${i}/3`);
    }
  });

  it('Kubernetes: an Indexed Job with N completions, index i running shard i+1, one GPU each', () => {
    const manifest = parseYaml(k8sManifest({ ...base, shards: 4, workdir: work, image: 'reg/cxr:1' }));
    expect(manifest.kind).toBe('Job');
    expect(manifest.spec).toMatchObject({ completionMode: 'Indexed', completions: 4, parallelism: 4 });
    const c = manifest.spec.template.spec.containers[0];
    expect(c.image).toBe('reg/cxr:1');
    expect(c.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(manifest.spec.template.spec.restartPolicy).toBe('Never');
    for (let i = 0; i < 4; i++) {
      const r = spawnSync(c.command[0], c.command.slice(1), {
        cwd: c.workingDir,
        encoding: 'utf8',
        env: { ...process.env, JOB_COMPLETION_INDEX: String(i), CXR: stub },
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toMatch(new RegExp(`--shard ${i + 1}/4$`));
    }
  });

  it('plan checks its flags and prints the script on stdout', async () => {
    expect(() => experimentsPlan({ grid, slurm: 2, k8s: 2 })).toThrow(/one of --slurm N or --k8s N/);
    expect(() => experimentsPlan({ slurm: 2 })).toThrow(/--grid FILE/);
    const { value: code, out } = await captureStdout(() => main(['experiments', 'plan', '--grid', grid, '--slurm', '2', '--out', 'r']));
    expect(code).toBe(0);
    expect(out).toContain('#SBATCH --array=1-2');
    expect(out).toContain(`--grid '${grid}'`);
  });
});
