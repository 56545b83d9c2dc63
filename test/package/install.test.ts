// The proof that the packages work outside the monorepo: build each library, `pnpm pack` it,
// install the tarballs with plain npm into a fresh project, and run there with plain node (no tsx,
// no TypeScript) the @cxr/tensor README example, the @cxr/nn README training loop, a DataLoader
// with worker threads, and `npx cxr predict` with a tiny model, whose probabilities must equal
// those of `pnpm cli predict` from this checkout.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const libraries = ['tensor', 'nn', 'models', 'data', 'cli'];
const xray = resolve(root, '../shared/datasets/cxr-real/test/normal');
let work: string;
let project: string;

function run(cmd: string, args: string[], cwd: string, timeout = 600_000): string {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, CXR_CACHE: join(work, 'cache'), npm_config_update_notifier: 'false' },
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The first ```ts block of a package README, which the package's own tests keep runnable. */
function readmeExample(pkg: string): string {
  const block = /```ts\n([\s\S]*?)```/.exec(readFileSync(join(root, 'packages', pkg, 'README.md'), 'utf8'))?.[1];
  if (!block) throw new Error(`packages/${pkg}/README.md has no ts example`);
  return block;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'cxr-pack-'));
  project = join(work, 'project');
  const tarballs = join(work, 'tarballs');
  for (const pkg of libraries) {
    const dir = join(root, 'packages', pkg);
    run('pnpm', ['run', 'build'], dir);
    run('pnpm', ['pack', '--pack-destination', tarballs], dir);
  }
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'cxr-install-check', version: '1.0.0', private: true, type: 'module' }));
  const files = readdirSync(tarballs).map((f) => join(tarballs, f));
  expect(files).toHaveLength(libraries.length);
  // The two type packages are only for the TypeScript-consumer check below.
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...files, '@webgpu/types@0.1.74', '@types/node@20.19.43'], project);
}, 1_200_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('packed @cxr packages installed with npm', () => {
  it('ship compiled JavaScript with declarations and no TypeScript sources, and need no tsx', () => {
    for (const pkg of libraries) {
      const dir = join(project, 'node_modules/@cxr', pkg);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      expect(manifest.private, pkg).toBeUndefined();
      expect(manifest.license, pkg).toBe('Apache-2.0');
      expect(JSON.stringify(manifest.exports), pkg).not.toMatch(/(?<!\.d)\.ts"/);
      expect(existsSync(join(dir, 'src')), `${pkg} ships src/`).toBe(false);
      expect(
        readdirSync(join(dir, 'dist')).some((f) => f.endsWith('.d.ts.map')),
        pkg,
      ).toBe(true);
    }
    expect(existsSync(join(project, 'node_modules/tsx')), 'tsx was installed').toBe(false);
    expect(existsSync(join(project, 'node_modules/typescript')), 'typescript was installed').toBe(false);
  });

  it('type-check a TypeScript consumer against the shipped declarations', () => {
    writeFileSync(
      join(project, 'consumer.ts'),
      `
import { getDevice, tensor, matmul, type Tensor } from '@cxr/tensor';
import { Linear, crossEntropy } from '@cxr/nn';
import { createModel, openSafetensors, type HostTensor } from '@cxr/models';
import { decodeImage, evalTransforms, applyTransforms, mulberry32, type Image } from '@cxr/data';
export async function check(bytes: Uint8Array): Promise<[Tensor, Image, HostTensor | undefined]> {
  await getDevice();
  const l = new Linear(2, 3);
  const loss: Tensor = crossEntropy(l.forward(matmul(tensor([[1, 2]]), tensor([[1, 0], [0, 1]]))), tensor([1], [1], 'int32'));
  createModel('resnet18').dispose();
  const img = applyTransforms(decodeImage(bytes, 'x.png'), evalTransforms({ size: 32 }), mulberry32(0));
  return [loss, img, openSafetensors(bytes).tensors[0]?.load()];
}
// @ts-expect-error: the declarations are precise enough to reject a wrong argument
tensor('not numbers');
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: ['@webgpu/types', 'node'] },
        files: ['consumer.ts'],
      }),
    );
    run(join(root, 'node_modules/.bin/tsc'), ['-p', '.'], project);
  });

  it("give a browser consumer (bundler resolution, 'browser' condition) the browser entries' declarations, without Node's functions", () => {
    const web = join(project, 'web');
    execFileSync('mkdir', ['-p', web]);
    writeFileSync(
      join(web, 'page.ts'),
      `
import { getDevice, tensor } from '@cxr/tensor';
import { createModel, readSafetensors } from '@cxr/models';
import { decodeImageAsync, evalTransforms } from '@cxr/data';
export async function check(bytes: Uint8Array): Promise<void> {
  await getDevice();
  tensor([1, 2]).dispose();
  createModel('resnet18').dispose();
  readSafetensors(bytes);
  await decodeImageAsync(bytes, 'x.png');
  evalTransforms({ size: 32 });
}
// @ts-expect-error: cacheDir reads the environment and the home folder, Node only
import { cacheDir } from '@cxr/tensor';
// @ts-expect-error: reading a weight file by path is Node only
import { saveWeights } from '@cxr/models';
// @ts-expect-error: folders of files are Node only
import { ImageFolder } from '@cxr/data';
export const nodeOnly = [cacheDir, saveWeights, ImageFolder];
`,
    );
    writeFileSync(
      join(web, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'esnext',
          moduleResolution: 'bundler',
          customConditions: ['browser'],
          target: 'es2022',
          lib: ['es2022', 'dom'],
          strict: true,
          noEmit: true,
          types: ['@webgpu/types'],
        },
        files: ['page.ts'],
      }),
    );
    run(join(root, 'node_modules/.bin/tsc'), ['-p', '.'], web);
  });

  it('run the @cxr/tensor README example with plain node', () => {
    writeFileSync(join(project, 'tensor-example.mjs'), readmeExample('tensor'));
    const out = run('node', ['tensor-example.mjs'], project);
    expect(out).toMatch(/\[ 2, 4 \]/);
    const sums = /Float32Array\(2\) \[ ([\d.e-]+), ([\d.e-]+) \]/.exec(out.split('\n').filter(Boolean).at(-1)!);
    expect(sums, out).not.toBeNull();
    for (const s of sums!.slice(1)) expect(Math.abs(Number(s) - 1)).toBeLessThan(1e-5);
  });

  it('run the @cxr/nn README training loop with plain node', () => {
    writeFileSync(join(project, 'nn-example.mjs'), readmeExample('nn'));
    const out = run('node', ['nn-example.mjs'], project);
    expect(out).toMatch(/step 20 loss \d\.\d+ acc/);
    expect(out).toMatch(/eval logits( -?\d\.\d{3}){4}/);
  });

  it('load batches through the compiled data-loader workers', () => {
    writeFileSync(
      join(project, 'loader.mjs'),
      `
import { DataLoader, evalTransforms, loadImageFolder, synthesizeDataset } from '@cxr/data';
await synthesizeDataset({ out: 'synthetic', perClass: 6, size: 48 });
const folder = await loadImageFolder('synthetic', { log: () => {} });
const loader = new DataLoader(folder.split('train'), { batchSize: 4, shuffle: false, transforms: evalTransforms({ size: 32 }), workers: 2 });
let n = 0;
for await (const b of loader) n += b.labels.length;
await loader.close();
console.log('samples', n, 'of', folder.split('train').samples.length);
`,
    );
    const m = /samples (\d+) of (\d+)/.exec(run('node', ['loader.mjs'], project));
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(Number(m![2]));
    expect(Number(m![1])).toBeGreaterThan(0);
  });

  it('npx cxr predict gives the same probabilities as pnpm cli predict in the checkout', () => {
    // A tiny model written with the installed packages: ResNet-18, seeded init, a 2-class head.
    writeFileSync(
      join(project, 'tiny-model.mjs'),
      `
import { Generator, getDevice, destroyDevice } from '@cxr/tensor';
import { applyHead, createModel, writeSafetensorsFile } from '@cxr/models';
await getDevice();
const model = createModel('resnet18', { generator: new Generator(11) });
applyHead(model, 'replace', 2);
const host = new Map();
for (const [k, t] of model.stateDict()) {
  host.set(k, t.dtype === 'int32' ? { dtype: 'int32', shape: [...t.shape], data: await t.toInt32Array() } : { dtype: 'float32', shape: [...t.shape], data: await t.toArray() });
}
writeSafetensorsFile('tiny.safetensors', host);
model.dispose();
await destroyDevice();
`,
    );
    run('node', ['tiny-model.mjs'], project);
    const image = join(xray, readdirSync(xray).find((f) => f.endsWith('.png'))!);
    const args = [
      'predict',
      '--arch',
      'resnet18',
      '--weights',
      join(project, 'tiny.safetensors'),
      '--image-size',
      '32',
      '--classes',
      'infected,normal',
      '--json',
      image,
    ];
    const installed = JSON.parse(run('npx', ['--no-install', 'cxr', ...args], project)) as { probs: number[]; label: string }[];
    const checkout = JSON.parse(run(join(root, 'node_modules/.bin/tsx'), [join(root, 'packages/cli/src/main.ts'), ...args], root)) as typeof installed;
    expect(installed).toHaveLength(1);
    expect(installed[0].probs).toHaveLength(2);
    expect(installed[0].probs[0] + installed[0].probs[1]).toBeCloseTo(1, 5);
    expect(['infected', 'normal']).toContain(installed[0].label);
    for (let i = 0; i < 2; i++) expect(Math.abs(installed[0].probs[i] - checkout[0].probs[i]) / checkout[0].probs[i]).toBeLessThan(1e-5);
  });
});
