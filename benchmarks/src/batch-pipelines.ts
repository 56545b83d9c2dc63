/**
 * Pipelines the default job's step compiles per batch size: ResNet-18 64 px, 2 classes, Adam,
 * through the CLI's own `trainStep` at batch 16, again at 16, then 8 (a partial last batch), then
 * evaluation at 16 and 4, with the new pipelines of each phase counted per kernel family. On
 * Dawn's null backend (`--backend null`: compiles every shader, runs nothing) it stands in for a
 * GPU adapter's code paths (implicit-GEMM convs, split plans), where nothing else can be measured
 * here. Conv tile tuning is cached in a temporary CXR_CACHE, so nothing on disk is touched.
 * `pnpm exec tsx src/batch-pipelines.ts [--backend null] [--arch resnet18] [--image-size 64]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { option } from './cliArgs.ts';

const cacheRoot = mkdtempSync(join(tmpdir(), 'cxr-batch-pipelines-'));
process.env.CXR_CACHE = cacheRoot;
const T = await import('@cxr/tensor');
const { noGrad } = await import('@cxr/nn');
const { createModel } = await import('@cxr/models');
const { defaultTrainConfig } = await import('../../packages/cli/src/config/trainConfig.ts');
const { buildOptimizer } = await import('../../packages/cli/src/train/build.ts');
const { trainStep } = await import('../../packages/cli/src/train/steps.ts');

const backend = option('--backend');
const gpu = await T.getDevice({ flags: backend ? [`backend=${backend}`] : [] });
const cache = gpu.pipelines;
const origGet = cache.get.bind(cache);
let families = new Map<string, number>();
cache.get = (prelude: string, body: string, l: string) => {
  const before = cache.size;
  const p = origGet(prelude, body, l);
  if (cache.size !== before) {
    const f = l.split(' ')[0];
    families.set(f, (families.get(f) ?? 0) + 1);
  }
  return p;
};

const arch = option('--arch') ?? defaultTrainConfig.arch;
const size = Number(option('--image-size') ?? defaultTrainConfig.imageSize);
const config = { ...defaultTrainConfig, arch, imageSize: size };
const model = createModel(arch, { numClasses: 2, generator: new T.Generator(0) });
const optimizer = buildOptimizer(config, model);
const batch = (n: number) => ({
  images: Float32Array.from({ length: n * 3 * size * size }, (_, i) => Math.sin(i * 0.37)),
  labels: Int32Array.from({ length: n }, (_, i) => i % 2),
  files: [],
  shape: [n, 3, size, size] as [number, number, number, number],
  epoch: 0,
});
console.log(`${gpu.adapterName}; backend ${backend ?? 'default'}; ${arch} ${size}px, ${config.optimizer}`);
const phase = async (name: string, run: () => Promise<void>) => {
  families = new Map();
  const before = T.memoryStats().pipelines;
  await run();
  const list = [...families].sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f} ${n}`);
  console.log(`${name}: ${T.memoryStats().pipelines - before} new pipelines${list.length ? ` (${list.join(', ')})` : ''}`);
};
const train = (n: number) => async () => {
  model.train();
  await trainStep(model, optimizer, config.loss, batch(n));
};
const evaluate = (n: number) => async () => {
  model.eval();
  const b = batch(n);
  const x = T.tensor(b.images, b.shape);
  const logits = noGrad(() => model.forward(x));
  await logits.toArray();
  logits.dispose();
  x.dispose();
};
await phase('train step, batch 16', train(16));
await phase('train step, batch 16 again', train(16));
await phase('train step, batch 8', train(8));
await phase('eval, batch 16', evaluate(16));
await phase('eval, batch 4', evaluate(4));
rmSync(cacheRoot, { recursive: true, force: true });
