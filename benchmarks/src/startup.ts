/**
 * Where the default job's epochs go, first epoch against the later ones: the CLI's own loaders,
 * model, optimizer, training step and validation pass (packages/cli/src/train), with each epoch
 * split into waiting for the loader, training steps, the validation pass, and the pipeline
 * compilations inside them (count and milliseconds). The image disk cache starts cold (a fresh
 * CXR_CACHE under /tmp) unless --warm-cache, as a first run on a new machine sees it. As in `cxr
 * train`, the data audit runs first, fills the training images' cache and prepares the evaluation
 * images as it decodes them (timed apart; --no-audit: the epochs decode them, as before 2026-12-01).
 *
 * `pnpm exec tsx src/startup.ts [--data DIR] [--epochs 3] [--arch resnet18] [--image-size 64] [--warm-cache] [--no-audit] [--keep-priority] [--dump-wgsl FILE] [--normalise-in-workers] [--conv-tiles JSON]`
 * (--normalise-in-workers: batches as before 2026-11-30 evening, three normalised channels written
 * by the loader, instead of one grey channel normalised on the device.)
 * (MESA_SHADER_CACHE_DISABLE=true measures cold compilation: lavapipe keeps compiled shaders on disk.)
 * On lavapipe the "compiling" figures are the time spent in createComputePipeline, which there
 * mostly waits for the queue: lavapipe compiles each shader with LLVM at its first dispatch, on
 * its queue thread, and pipeline creation takes the queue's lock. So the per-family split names
 * whoever waited, not what compiled; compile-replay.ts --dispatch measures each shader's own cost.
 * (without --data it synthesises the built-in dataset into a temp folder, as the default run does).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { flag, option } from './cliArgs.ts';

const cacheRoot = flag('--warm-cache') ? null : mkdtempSync(join(tmpdir(), 'cxr-startup-cache-'));
if (cacheRoot) process.env.CXR_CACHE = cacheRoot;

// Imported after CXR_CACHE is set: cacheDir() reads it when the loaders are made.
const T = await import('@cxr/tensor');
const { createModel } = await import('@cxr/models');
const { synthesizeDataset } = await import('@cxr/data');
const { defaultTrainConfig } = await import('../../packages/cli/src/config/trainConfig.ts');
const { evaluationImages, makeLoaders, openDataset, startTrainingDecoders, trainingImageCache } = await import('../../packages/cli/src/train/data.ts');
const { auditImageFolder } = await import('../../packages/cli/src/audit/dataAudit.ts');
const { buildOptimizer } = await import('../../packages/cli/src/train/build.ts');
const { submitTrainStep, predictAll } = await import('../../packages/cli/src/train/steps.ts');
const { oneInFlight } = await import('../../packages/cli/src/train/stepsInFlight.ts');

let dataDir = option('--data');
let synthDir: string | null = null;
if (!dataDir) {
  synthDir = mkdtempSync(join(tmpdir(), 'cxr-startup-data-'));
  await synthesizeDataset({ out: synthDir, perClass: 120, size: 96, seed: 0 });
  dataDir = synthDir;
}
const config = {
  ...defaultTrainConfig,
  data: dataDir,
  epochs: Number(option('--epochs') ?? 3),
  arch: option('--arch') ?? defaultTrainConfig.arch,
  imageSize: Number(option('--image-size') ?? defaultTrainConfig.imageSize),
};
const folder = await openDataset(
  config,
  () => {},
  (m: string) => console.warn(m),
);
const deferNormalize = !flag('--normalise-in-workers');
// As the CLI does: the decoding threads boot while the audit reads the images, and the audit
// fills the training images' cache.
const trainingPool = startTrainingDecoders(1);
const imageCache = trainingImageCache(folder, config);
let auditSeconds: number | null = null;
let prepared: Awaited<ReturnType<typeof auditImageFolder>>['prepared'] | undefined;
if (!flag('--no-audit')) {
  const t0 = performance.now();
  ({ prepared } = await auditImageFolder(folder, { seed: config.seed, imageCache, prepare: evaluationImages(folder, config) }));
  auditSeconds = (performance.now() - t0) / 1000;
}
const loaders = makeLoaders(folder, config, () => {}, { workers: 1, trainingPool, cache: imageCache?.config, prepared, deferNormalize });
// --keep-priority: leave the main thread at normal priority (the device lowers it to nice 19 on a
// CPU adapter by default, and pipelines compile on that thread).
const gpu = await T.getDevice({ lowerMainThreadPriority: !flag('--keep-priority') });
// --conv-tiles JSON: conv kernel settings (setConvTiles) to time against the defaults.
const convTiles = option('--conv-tiles');
if (convTiles) T.setConvTiles(JSON.parse(convTiles));

// Pipeline compilations, timed where they happen (PipelineCache.get compiles on a miss).
const cache = gpu.pipelines;
const origGet = cache.get.bind(cache);
let compileMs = 0;
let compiles = 0;
const byFamily = new Map<string, { n: number; ms: number }>();
// --dump-wgsl FILE: every compiled source with its label and time, for replaying the compilations
// elsewhere (benchmarks/src/compile-replay.ts).
const dumpPath = option('--dump-wgsl');
const dumped: { label: string; ms: number; source: string }[] = [];
cache.get = (prelude: string, body: string, l: string) => {
  const before = cache.size;
  const t0 = performance.now();
  const p = origGet(prelude, body, l);
  if (cache.size !== before) {
    const ms = performance.now() - t0;
    compileMs += ms;
    compiles++;
    const f = l.split(' ')[0];
    const e = byFamily.get(f) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += ms;
    byFamily.set(f, e);
    if (dumpPath) dumped.push({ label: l, ms, source: prelude + body });
  }
  return p;
};

const model = createModel(config.arch, { numClasses: folder.classes.length, generator: new T.Generator(0) });
const optimizer = buildOptimizer(config, model);
console.log(
  `adapter ${gpu.adapterName}; ${config.arch} ${config.imageSize}px batch ${config.batchSize}; ${loaders.train.dataset.samples.length} train / ${loaders.val.dataset.samples.length} val images; image cache ${cacheRoot ? 'cold' : 'warm'}; ${auditSeconds === null ? 'no audit' : `audit ${auditSeconds.toFixed(1)} s (fills the image cache, prepares evaluation images)`}; input ${deferNormalize ? 'one channel, normalised on the device' : '3 channels normalised in the loader'}; main thread ${flag('--keep-priority') ? 'normal priority' : 'nice 19'}; Mesa shader cache ${process.env.MESA_SHADER_CACHE_DISABLE === 'true' ? 'off' : 'on'}; shader prewarming ${gpu.pipelines.prewarmer ? `on (nice ${process.env.CXR_PREWARM_NICE ?? 0})` : 'off'}; load ${loadavg()[0].toFixed(1)}`,
);
const rows: Record<string, number>[] = [];
for (let epoch = 0; epoch < config.epochs; epoch++) {
  const c0 = compileMs;
  const n0 = compiles;
  const t0 = performance.now();
  let waitMs = 0;
  let stepMs = 0;
  let stepCompileMs = 0;
  let steps = 0;
  const stepTimes: number[] = [];
  model.train();
  // The CLI's loop: one step in flight (oneInFlight). A step's time here runs from its
  // submission to its readback, so it includes the next step's recording.
  const tTrain = performance.now();
  async function* timedBatches() {
    const it = loaders.train.epoch(epoch)[Symbol.asyncIterator]();
    for (;;) {
      const w0 = performance.now();
      const next = await it.next();
      waitMs += performance.now() - w0;
      if (next.done) return;
      yield next.value;
    }
  }
  // Step 1 counts from the start of the epoch (its batch's wait included).
  let last = tTrain;
  let lastCompile = compileMs;
  await oneInFlight(
    timedBatches(),
    (batch) => submitTrainStep(model, optimizer, config.loss, batch),
    () => {
      const now = performance.now();
      if (flag('--steps')) stepTimes.push(Math.round(now - last));
      stepCompileMs += compileMs - lastCompile;
      lastCompile = compileMs;
      last = now;
      steps++;
    },
  );
  stepMs = performance.now() - tTrain - waitMs;
  const v0 = performance.now();
  const cv = compileMs;
  model.eval();
  await predictAll(model, loaders.val, config.loss, 0);
  const valMs = performance.now() - v0;
  const row = {
    epoch: epoch + 1,
    totalS: (performance.now() - t0) / 1000,
    loaderWaitS: waitMs / 1000,
    stepsS: stepMs / 1000,
    steps,
    stepCompileS: stepCompileMs / 1000,
    valS: valMs / 1000,
    valCompileS: (compileMs - cv) / 1000,
    compiles: compiles - n0,
    compileS: (compileMs - c0) / 1000,
    load: loadavg()[0],
  };
  rows.push(row);
  if (stepTimes.length) console.log(`epoch ${row.epoch} steps (ms): ${stepTimes.join(' ')}`);
  console.log(
    `epoch ${row.epoch}: ${row.totalS.toFixed(1)} s = loader wait ${row.loaderWaitS.toFixed(1)} + ${steps} steps ${row.stepsS.toFixed(1)} (of which compiling ${row.stepCompileS.toFixed(1)}) + validation ${row.valS.toFixed(1)} (compiling ${row.valCompileS.toFixed(1)}); ${row.compiles} pipelines compiled; load ${row.load.toFixed(1)}`,
  );
}
const later = rows.slice(1).map((r) => r.totalS);
if (later.length) console.log(`first epoch / mean of later epochs: ${(rows[0].totalS / (later.reduce((a, b) => a + b, 0) / later.length)).toFixed(2)}x`);
console.log(
  `compilation by kernel family: ${[...byFamily.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, 12)
    .map(([f, e]) => `${f} ${e.n}x ${(e.ms / 1000).toFixed(1)} s`)
    .join(', ')}`,
);
if (flag('--json')) console.log(JSON.stringify(rows));
if (dumpPath) writeFileSync(dumpPath, JSON.stringify(dumped));
model.parameters().forEach((p) => p.dispose());
await T.destroyDevice();
if (cacheRoot) rmSync(cacheRoot, { recursive: true, force: true });
if (synthDir) rmSync(synthDir, { recursive: true, force: true });
