/**
 * Issue 15's GPU measurements in one prepared run (see benchmarks/README.md, "GPU script"):
 *  1. training steps, ResNet-18 and VGG16, 224 px, batch 32, fp32, Adam, 2-class head, loss and
 *     argmax read back each step (the CLI's step) — CXR on the WebGPU adapter, then PyTorch CUDA on
 *     the same card (TF32 off), as a ratio;
 *  2. the whole loop: a generated dataset on disk (~1,500 training images of 256 px), first the
 *     loaders alone (@cxr/data's DataLoader with 0/1/4/`cores` worker threads, images/s and the main
 *     thread's time per batch), then one epoch of the CLI's training step at 224 px fed by it (0 and
 *     `cores` workers; time per batch waiting for data, uploading, stepping; batches as the CLI's
 *     loaders now make them, one grey channel normalised on the device, and for `cores` workers also
 *     as before, three channels normalised by the workers), against torchvision
 *     ImageFolder + DataLoader (same worker counts, persistent workers) alone and with the same
 *     PyTorch step, in images/s: does the worker pool feed the GPU?
 *  3. the ResNet-18 step and matmul 2048 again on a device with Dawn's robustness transform off
 *     (what the clamped indices cost; `--no-robustness-ab` skips it).
 * Also recorded: the matmul tiles tuned at device open, each conv shape's tuned tiles with every
 * candidate's time (`convTuning`), the steps before conv tuning (`cxrStepsDefaultConvTilesMs`),
 * the Linear shapes with and without split-K (`matmulFc`), and the device's limits.
 * Writes $OUT/gpu-step.json (or benchmarks/results/). `--smoke`: tiny sizes, to check the script
 * and its bundle on any adapter (lavapipe) before spending GPU time.
 *
 * Pack and run (from the root of a clone: pack-gpu.sh writes .git/info/exclude, which a git
 * worktree does not have). The loader's worker is bundled as the second entry and must sit next to
 * the app as worker.js, in an ESM folder:
 *   ../shared/device/pack-gpu.sh benchmarks/src/gpu-step.ts packages/data/src/loader/worker.ts
 *   cp .gpu/app-1.mjs .gpu/worker.js && echo '{"type":"module"}' > .gpu/package.json
 *   bash .gpu/start.sh app-0.mjs --smoke    # on the GPU machine: tiny sizes, about a minute
 *   bash .gpu/start.sh app-0.mjs            # the figures; CXR_PYTHON picks the python with CUDA torch
 * Checked on lavapipe through the bundle with --smoke (CXR_PYTHON=/usr/bin/python3): all parts ran.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '@cxr/tensor';
import { DataLoader, evalTransforms, loadImageFolder, synthesizeDataset } from '@cxr/data';
import { crossEntropy, detach, Adam } from '@cxr/nn';
import { createModel } from '@cxr/models';
import { batchTensors, submitTrainStep } from '../../packages/cli/src/train/steps.ts';
import { oneInFlight } from '../../packages/cli/src/train/stepsInFlight.ts';
import { benchInputUpload } from './inputUpload.ts';
import { benchStep, type TrainStepRunner, trainStepRunner } from './step.ts';
import { benchPrecision } from './step-precision.ts';

const smoke = process.argv.includes('--smoke');
// `--steps-only`: the steps (every step's time), PyTorch's, and ResNet-18's profile with default
// and with tuned conv tiles; no matmul, loop or robustness sections (a short confirmation run).
const stepsOnly = process.argv.includes('--steps-only');
const out = process.env.OUT ?? 'benchmarks/results';
mkdirSync(out, { recursive: true });
const report: Record<string, unknown> = { smoke, cores: cpus().length };
const log = (m: string) => console.log(m);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const save = () => writeFileSync(join(out, 'gpu-step.json'), JSON.stringify(report, null, 2));

const size = smoke ? 64 : 224;
const batch = smoke ? 4 : 32;
const steps = smoke ? 2 : stepsOnly ? 12 : 8;
const matmulSizes = smoke ? [128, 256] : [1024, 2048, 4096];
const gpu = await T.getDevice();
// The features say whether f16 (`shader-f16`) or cooperative-matrix (`*subgroup-matrix*`) kernels could run here.
report.adapter = { name: gpu.adapterName, cpu: gpu.isCpuAdapter, features: [...gpu.adapter.features].sort() };
log(`adapter ${gpu.adapterName}; ${cpus().length} cores; features ${[...gpu.adapter.features].sort().join(' ')}`);
report.limits = {
  maxComputeWorkgroupStorageSize: gpu.limits.maxComputeWorkgroupStorageSize,
  maxComputeInvocationsPerWorkgroup: gpu.limits.maxComputeInvocationsPerWorkgroup,
  maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize,
};
// On a GPU adapter getDevice tuned the matmul tiles already (unless a cached choice existed).
report.matmulTilesAtOpen = T.getMatmulTiles();
log(`matmul tiles chosen at device open: ${JSON.stringify(report.matmulTilesAtOpen)}`);

// 1. Steps. Default conv tiles first (split-K on, no per-shape tuning), then the per-shape
// conv tuning the CLI's step runs after its first step, then the tuned steps (the figure).
const cxrSteps: Record<string, number> = {};
const cxrStepsDefaultTiles: Record<string, number> = {};
const convTuneSeconds: Record<string, number> = {};
// Every step's time with the buffers and pipelines it created: a slow step that creates buffers
// points at the pool (Dawn clears each new buffer), one that creates pipelines at compilation.
const stepDetails: Record<string, { ms: number; buffersCreated: number; pipelinesCreated: number }[]> = {};
report.stepDetails = stepDetails;
const stepDeviceMemoryMB: Record<string, { inUse: number; pooled: number }> = {};
report.stepDeviceMemoryMB = stepDeviceMemoryMB;
const timeSteps = async (r: TrainStepRunner, n: number, key: string) => {
  const ms: number[] = [];
  const details: (typeof stepDetails)[string] = (stepDetails[key] = []);
  for (let i = 0; i < n; i++) {
    const s0 = T.memoryStats();
    const t0 = performance.now();
    await r.step();
    ms.push(performance.now() - t0);
    const s1 = T.memoryStats();
    details.push({ ms: ms[i], buffersCreated: s1.buffersCreated - s0.buffersCreated, pipelinesCreated: s1.pipelines - s0.pipelines });
  }
  log(
    `  ${key}: ${details.map((d) => `${d.ms.toFixed(1)}${d.buffersCreated ? `+${d.buffersCreated}b` : ''}${d.pipelinesCreated ? `+${d.pipelinesCreated}p` : ''}`).join(' ')} ms`,
  );
  return median(ms);
};
for (const arch of ['resnet18', 'vgg16']) {
  try {
    const r = trainStepRunner({ arch, batch, size, tuneConv: false });
    for (let i = 0; i < 2; i++) await r.step();
    cxrStepsDefaultTiles[arch] = await timeSteps(r, stepsOnly ? steps : Math.min(steps, 4), `${arch} default conv tiles`);
    log(`CXR ${arch} step, default conv tiles: ${cxrStepsDefaultTiles[arch].toFixed(1)} ms`);
    const t0 = performance.now();
    const tuned = await T.autotuneConv();
    convTuneSeconds[arch] = (performance.now() - t0) / 1000;
    log(`conv tiles tuned for ${tuned.length} ${arch} shapes in ${convTuneSeconds[arch].toFixed(1)} s`);
    await r.step();
    cxrSteps[arch] = await timeSteps(r, steps, `${arch} tuned`);
    // The device memory a run of this model holds (what the pool created: in use + kept for reuse).
    const m = T.memoryStats();
    stepDeviceMemoryMB[arch] = { inUse: m.inUseBytes / 2 ** 20, pooled: m.pooledBytes / 2 ** 20 };
    log(
      `${arch} device memory after the steps: ${((m.inUseBytes + m.pooledBytes) / 2 ** 20).toFixed(0)} MB (${(m.inUseBytes / 2 ** 20).toFixed(0)} in use between steps)`,
    );
    r.dispose();
    log(`CXR ${arch} ${size}px batch ${batch} Adam step: ${cxrSteps[arch].toFixed(1)} ms (median of ${steps})`);
  } catch (e) {
    log(`CXR ${arch} step failed: ${(e as Error).message}`);
    cxrSteps[arch] = NaN;
  }
  await T.sync();
}
report.cxrStepsDefaultConvTilesMs = cxrStepsDefaultTiles;
report.convTuneSeconds = convTuneSeconds;
report.convTuning = T.convTuning();
report.cxrStepMs = cxrSteps;
save();

// --precision f16 against float32 on the card (needs shader-f16, which the last H200 run's Dawn did not expose: then one line says so).
try {
  report.precision = await benchPrecision({ arch: 'resnet18', size, batch, rounds: smoke ? 1 : 3, steps: smoke ? 1 : 5, log });
} catch (e) {
  log(`f16 step comparison failed: ${(e as Error).message}`);
  report.precisionError = (e as Error).message;
}
save();

const torchStepPy = `
import json, sys, time, torch, torchvision
c = json.loads(sys.argv[1])
dev = 'cuda' if torch.cuda.is_available() else 'cpu'
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
r = {'device': torch.cuda.get_device_name(0) if dev == 'cuda' else 'cpu', 'torch': torch.__version__, 'steps': {}}
def sync():
    if dev == 'cuda': torch.cuda.synchronize()
for arch in ['resnet18', 'vgg16']:
    m = getattr(torchvision.models, arch)(num_classes=2).to(dev).train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    x = torch.rand(c['batch'], 3, c['size'], c['size'], device=dev) * 2 - 1
    y = torch.tensor([(i * 7) % 2 for i in range(c['batch'])], device=dev)
    def step():
        logits = m(x); l = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True); l.backward(); opt.step()
        l.item(); logits.detach().argmax(1).tolist()
    for _ in range(2): step()
    sync(); ts = []
    for _ in range(c['steps']):
        t0 = time.perf_counter(); step(); sync(); ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort(); r['steps'][arch] = ts[len(ts) // 2]
    del m, opt
r['matmul'] = {}
for n in c['matmulSizes']:
    a = torch.randn(n, n, device=dev); b = torch.randn(n, n, device=dev)
    a @ b; sync(); best = 1e9
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(10): a @ b
        sync(); best = min(best, (time.perf_counter() - t0) / 10)
    r['matmul'][n] = 2 * n**3 / best / 1e9
print(json.dumps(r))
`;
const python = process.env.CXR_PYTHON ?? 'python3';
try {
  const t = JSON.parse(
    execFileSync(python, ['-c', torchStepPy, JSON.stringify({ size, batch, steps, matmulSizes })], { encoding: 'utf8', timeout: 20 * 60_000 })
      .trim()
      .split('\n')
      .pop()!,
  );
  report.torchSteps = t;
  for (const arch of Object.keys(cxrSteps)) {
    log(`PyTorch ${t.torch} on ${t.device}, ${arch}: ${t.steps[arch].toFixed(1)} ms; CXR takes ${(cxrSteps[arch] / t.steps[arch]).toFixed(2)}x (goal <= 2x)`);
  }
} catch (e) {
  report.torchStepsError = String((e as Error).message).slice(0, 2000);
  log(`PyTorch steps failed: ${report.torchStepsError}`);
}
save();

/** Milliseconds per call of `run`: the best of 3 rounds of 10 calls (each round synced), after a warm-up call. */
async function msPerCall(run: () => void): Promise<number> {
  run();
  await T.sync();
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) run();
    await T.sync();
    best = Math.min(best, (performance.now() - t0) / 10);
  }
  return best;
}

/** GFLOP/s of an n³ matmul on this device. */
async function matmulGflops(n: number): Promise<number> {
  const a = T.randn([n, n], { seed: 1 });
  const b = T.randn([n, n], { seed: 2 });
  const ms = await msPerCall(() => T.matmul(a, b).dispose());
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / ms / 1e6;
}

// 1b. Matmul tiles on this adapter: every autotune candidate timed, then the winner at three sizes.
if (!stepsOnly) {
  const tune = await T.autotuneMatmul({ size: smoke ? 256 : 2048, persist: false });
  report.matmulTune = tune;
  for (const t of tune.timings) log(`matmul ${tune.size}: ${JSON.stringify(t.config)} ${t.ms.toFixed(3)} ms`);
  const gflops: Record<number, number> = {};
  for (const n of matmulSizes) gflops[n] = await matmulGflops(n);
  report.matmulGflops = gflops;
  // The heads' shapes at batch 32 (Linear: x · Wᵀ), with split-K (default) and without.
  const fc: Record<string, { splitMs: number; unsplitMs: number }> = {};
  const tiles = T.getMatmulTiles();
  for (const [M, K, N] of smoke
    ? [[4, 512, 2]]
    : [
        [32, 512, 2],
        [32, 4096, 2],
        [32, 4096, 4096],
        [32, 25088, 4096],
      ]) {
    const a = T.randn([M, K], { seed: 3 });
    const b = T.randn([N, K], { seed: 4 });
    const time = () => msPerCall(() => T.matmul(a, b, { transB: true }).dispose());
    const splitMs = await time();
    T.setMatmulTiles(tiles.kind === 'shared' ? { ...tiles, splitTarget: 0 } : tiles);
    const unsplitMs = await time();
    T.setMatmulTiles(null);
    fc[`${M}x${K}·${N}x${K}ᵀ`] = { splitMs, unsplitMs };
    log(`matmul ${M}x${K} · ${N}x${K}ᵀ: ${splitMs.toFixed(3)} ms with split-K, ${unsplitMs.toFixed(3)} ms without`);
    a.dispose();
    b.dispose();
  }
  report.matmulFc = fc;
  const torchMatmul = (report.torchSteps as { matmul?: Record<number, number> } | undefined)?.matmul ?? {};
  for (const n of matmulSizes)
    log(
      `matmul ${n}: CXR ${gflops[n].toFixed(0)} GFLOP/s${torchMatmul[n] ? `, PyTorch ${torchMatmul[n].toFixed(0)} (${(gflops[n] / torchMatmul[n]).toFixed(2)}x; goal >= 0.6)` : ''}`,
    );
  save();
}

// 1c. Where a step's GPU time goes: each dispatch replayed alone, grouped per layer and pass.
// With --steps-only: ResNet-18 with the default conv tiles (tuning forgotten), then tuned again.
const savedCache = process.env.CXR_CACHE;
if (!process.argv.includes('--no-profile')) {
  const profiles: Record<string, unknown> = {};
  for (const arch of stepsOnly ? ['resnet18 default tiles', 'resnet18'] : ['resnet18', 'vgg16']) {
    try {
      const defaultTiles = arch.endsWith('default tiles');
      // Forgetting the choices alone would reload them from conv-tune.json: point the cache at an
      // empty folder for the default-tiles profile, and back (choices reloaded) for the tuned one.
      if (defaultTiles) process.env.CXR_CACHE = mkdtempSync(join(tmpdir(), 'cxr-no-tuning-'));
      else if (stepsOnly && savedCache === undefined) delete process.env.CXR_CACHE;
      else if (stepsOnly) process.env.CXR_CACHE = savedCache;
      if (stepsOnly) T.resetConvTuning();
      const r = await benchStep({ arch: arch.split(' ')[0], batch, size, byShape: true, quick: true, reps: smoke ? 2 : 20, tuneConv: !defaultTiles });
      profiles[arch] = r;
      log(
        `${arch} step ${r.stepMs.median.toFixed(1)} ms, ${r.dispatchesPerStep} dispatches, ${r.submitsPerStep} submits; kernels' own ${r.kernelSumMs.toFixed(1)} ms`,
      );
      for (const p of r.phases) log(`  phase ${p.phase}: ${p.ms.toFixed(1)} ms`);
      for (const k of r.kernels.slice(0, 25)) log(`  ${k.ms.toFixed(2).padStart(7)} ms x${k.dispatches} ${k.family}`);
    } catch (e) {
      profiles[arch] = { error: String((e as Error).message).slice(0, 1000) };
      log(`profile ${arch} failed: ${(e as Error).message}`);
    }
    await T.sync();
  }
  report.profiles = profiles;
  save();
}

if (stepsOnly) {
  log(`wrote ${join(out, 'gpu-step.json')}`);
  await T.destroyDevice();
  process.exit(0);
}

// 2. Input upload alone: a grey batch as 3 normalised channels (19 MB at 224 px, batch 32) against
// one un-normalised channel expanded on the device (normalizeChannels), per batch (inputUpload.ts).
try {
  report.inputUpload = await benchInputUpload({ shapes: [[batch, size]] });
  log(`input upload: ${JSON.stringify(report.inputUpload)}`);
} catch (e) {
  report.inputUploadError = String((e as Error).message).slice(0, 1000);
  log(`input upload failed: ${report.inputUploadError}`);
}
save();

// 2, continued. The whole loop on files: a generated dataset, decoded by the loader, alone and feeding the step.
// ~1,500 training images (47 batches of 32): a steady state, not the start-up of an 11-batch epoch.
// Written by the loader's worker threads (~3 s on 16 cores).
const data = mkdtempSync(join(tmpdir(), 'cxr-gpu-loop-'));
const perClass = smoke ? 8 : 1072;
const cores = cpus().length;
const synthStart = performance.now();
await synthesizeDataset({ out: data, perClass, size: smoke ? 96 : 256, seed: 0, workers: cores });
const folder = await loadImageFolder(data, { seed: 0, onBadImage: 'skip' });
const train = folder.split('train');
const loop: Record<string, unknown> = { images: train.samples.length, perClass, synthSeconds: (performance.now() - synthStart) / 1000 };
log(`loop dataset: ${train.samples.length} training images in ${(loop.synthSeconds as number).toFixed(1)} s`);
const loaderWorkers = [...new Set([0, 1, Math.min(4, cores), cores])];

// 2a. The loader alone (nothing done with the batches): what it can deliver per worker count, and
// what the main thread spends per batch (event-loop utilisation: receiving and assembling batches).
// Both loops use each batch before asking for the next, so the loader reuses its image buffers.
// `deferNormalize` (the CLI's loaders since 2026-11-30 evening): grey batches leave the workers as
// one un-normalised channel and the device expands and normalises them (batchTensors); the
// `...Cpu3` runs keep the earlier path (three normalised channels written by the workers).
const loaderOnly: Record<string, unknown> = {};
const variants = [...loaderWorkers.map((workers) => ({ workers, deferNormalize: true })), { workers: cores, deferNormalize: false }];
type LoaderVariant = { workers: number; deferNormalize: boolean };
const variantKey = (v: LoaderVariant) => `workers${v.workers}${v.deferNormalize ? '' : 'Cpu3'}`;
// The training loader's settings, as the CLI sets them (evaluation transforms: no augmentation cost).
const trainLoader = ({ workers, deferNormalize }: LoaderVariant) =>
  new DataLoader(train, { batchSize: batch, shuffle: true, seed: 0, workers, transforms: evalTransforms({ size }), reuseBuffers: true, deferNormalize });
for (const v of variants) {
  const { workers } = v;
  const loader = trainLoader(v);
  try {
    await loader.start();
    for (let epoch = 0; epoch < 2; epoch++) {
      const t0 = performance.now();
      const elu0 = performance.eventLoopUtilization();
      let images = 0;
      let batches = 0;
      let firstMs = 0;
      let bytes = 0;
      for await (const b of loader.epoch(epoch)) {
        if (!batches++) firstMs = performance.now() - t0;
        images += b.shape[0];
        bytes += b.images.byteLength;
      }
      if (epoch === 0) continue; // warm-up: JIT in every worker, page cache
      const s = (performance.now() - t0) / 1000;
      const mainBusyMsPerBatch = performance.eventLoopUtilization(elu0).active / batches;
      loaderOnly[variantKey(v)] = { imagesPerS: images / s, firstBatchMs: firstMs, mainBusyMsPerBatch, bytesPerBatch: bytes / batches };
      log(
        `CXR loader alone, ${workers} workers${v.deferNormalize ? '' : ', 3 channels normalised in the workers'}: ${(images / s).toFixed(0)} images/s (first batch ${firstMs.toFixed(0)} ms, main thread ${mainBusyMsPerBatch.toFixed(1)} ms a batch, ${(bytes / batches / 1e6).toFixed(1)} MB a batch)`,
      );
    }
  } catch (e) {
    loaderOnly[`${variantKey(v)}Error`] = String((e as Error).message).slice(0, 1000);
    log(`CXR loader alone with ${workers} workers failed: ${(e as Error).message}`);
  } finally {
    await loader.close();
  }
}
loop.cxrLoaderOnly = loaderOnly;
save();

// 2b. The loader feeding the CLI's training step. Per batch: time spent waiting for the loader (0
// when the pool keeps up), in batchTensors (the upload's CPU side, and recording the device's
// expansion for deferred batches) and in the step itself.
// inFlight: the CLI's loop (oneInFlight + submitTrainStep: the next step is recorded while the
// device runs the previous one); the others wait for each step's readback, as the CLI did before.
for (const v of [
  { workers: 0, deferNormalize: true },
  { workers: cores, deferNormalize: true },
  { workers: cores, deferNormalize: true, inFlight: true },
  { workers: cores, deferNormalize: false },
]) {
  const { workers } = v;
  const key = `cxr${variantKey(v).replace('workers', 'Workers')}${'inFlight' in v ? 'InFlight' : ''}`;
  let loader: DataLoader | null = null;
  try {
    loader = trainLoader(v);
    await loader.start();
    const model = createModel('resnet18', { numClasses: folder.classes.length, generator: new T.Generator(0) });
    model.train();
    const opt = new Adam(model.parameters(), { lr: 1e-3 });
    let images = 0;
    let batches = 0;
    let t0 = 0;
    let waitMs = 0;
    let uploadMs = 0;
    // Epoch 0 warms up (pipelines, buffers, JIT in the workers); epoch 1 is timed.
    for (let epoch = 0; epoch < 2; epoch++) {
      if (epoch === 1) {
        t0 = performance.now();
        images = batches = waitMs = uploadMs = 0;
      }
      if ('inFlight' in v) {
        await oneInFlight(
          loader.epoch(epoch),
          (b) => submitTrainStep(model, opt, 'ce', b),
          (r) => {
            images += r.count;
            batches++;
          },
        );
        continue;
      }
      const it = loader.epoch(epoch);
      for (;;) {
        const tw = performance.now();
        const next = await it.next();
        waitMs += performance.now() - tw;
        if (next.done) break;
        const b = next.value;
        const tu = performance.now();
        const { x, y } = batchTensors(b);
        uploadMs += performance.now() - tu;
        const logits = model.forward(x);
        const kept = detach(logits);
        const l = crossEntropy(logits, y);
        l.backward();
        opt.step();
        opt.zeroGrad();
        const pred = T.argmax(kept, 1);
        await Promise.all([l.item(), pred.toInt32Array()]);
        for (const t of [x, y, l, kept, pred]) t.dispose();
        images += b.labels.length;
        batches++;
      }
    }
    const s = (performance.now() - t0) / 1000;
    const perBatch = { waitMs: waitMs / batches, uploadMs: uploadMs / batches, stepMs: (s * 1000 - waitMs - uploadMs) / batches };
    loop[key] = { imagesPerS: images / s, seconds: s, batches, ...('inFlight' in v ? {} : perBatch) };
    log(
      `CXR loop, resnet18 ${size}px batch ${batch}, ${workers} loader workers${v.deferNormalize ? '' : ', 3 channels normalised in the workers'}${'inFlight' in v ? ', one step in flight (the CLI)' : ''}: ${(images / s).toFixed(1)} images/s${'inFlight' in v ? '' : `; per batch: waiting for data ${perBatch.waitMs.toFixed(1)} ms, upload ${perBatch.uploadMs.toFixed(1)} ms, step ${perBatch.stepMs.toFixed(1)} ms`}`,
    );
    model.parameters().forEach((p) => p.dispose());
    opt.dispose();
  } catch (e) {
    loop[`${key}Error`] = String((e as Error).message).slice(0, 1000);
    log(`CXR loop with ${workers} workers failed: ${(e as Error).message}`);
  } finally {
    await loader?.close();
  }
  await T.sync();
}
save();
// torchvision on the same files: the loader alone for the same worker counts, then the loop.
// Persistent workers, like CXR's pool, which boots once: each epoch is then a steady state.
const torchLoopPy = `
import json, sys, time, torch, torchvision
from torchvision import transforms as tv
c = json.loads(sys.argv[1])
dev = 'cuda' if torch.cuda.is_available() else 'cpu'
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
tf = tv.Compose([tv.Resize(c['size'] * 256 // 224), tv.CenterCrop(c['size']), tv.Grayscale(3), tv.ToTensor(),
                 tv.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
ds = torchvision.datasets.ImageFolder(c['dir'], transform=tf)
r = {'persistentWorkers': True, 'loaderOnly': {}}
def loader(workers):
    return torch.utils.data.DataLoader(ds, batch_size=c['batch'], shuffle=True, num_workers=workers, persistent_workers=workers > 0)
for workers in c['loaderWorkers']:
    dl = loader(workers)
    for epoch in range(2):
        t0 = time.perf_counter(); n = 0
        for x, y in dl: n += len(y)
    r['loaderOnly']['workers%d' % workers] = n / (time.perf_counter() - t0)
    del dl
for workers in c['workers']:
    dl = loader(workers)
    m = torchvision.models.resnet18(num_classes=len(ds.classes)).to(dev).train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    for epoch in range(2):
        if epoch == 1:
            if dev == 'cuda': torch.cuda.synchronize()
            t0 = time.perf_counter(); n = 0
        for x, y in dl:
            x, y = x.to(dev), y.to(dev)
            logits = m(x); l = torch.nn.functional.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True); l.backward(); opt.step()
            l.item(); logits.detach().argmax(1).tolist()
            if epoch == 1: n += len(y)
    r['workers%d' % workers] = n / (time.perf_counter() - t0)
    del dl
print(json.dumps(r))
`;
try {
  const t = JSON.parse(
    execFileSync(python, ['-c', torchLoopPy, JSON.stringify({ dir: join(data, 'train'), size, batch, workers: [0, cores], loaderWorkers })], {
      encoding: 'utf8',
      timeout: 30 * 60_000,
    })
      .trim()
      .split('\n')
      .pop()!,
  );
  loop.torch = t;
  log(`PyTorch loop images/s: ${JSON.stringify(t)}`);
} catch (e) {
  loop.torchError = String((e as Error).message).slice(0, 2000);
  log(`PyTorch loop failed: ${loop.torchError}`);
}
report.loop = loop;
save();
rmSync(data, { recursive: true, force: true });

// 3. What Dawn's robustness transform (every storage and workgroup index clamped) costs: a fresh
// device with it off (Dawn toggle disable_robustness), the ResNet-18 step and matmul 2048 again
// with the tiles tuned above (read back from the cache directory). Last: nothing after depends on it.
if (!process.argv.includes('--no-robustness-ab')) {
  try {
    await T.destroyDevice();
    await T.getDevice({ flags: ['enable-dawn-features=disable_robustness'] });
    const r = trainStepRunner({ arch: 'resnet18', batch, size });
    for (let i = 0; i < 2; i++) await r.step();
    const stepMs = await timeSteps(r, steps, 'resnet18 robustness off');
    r.dispose();
    const n = smoke ? 256 : 2048;
    const gflopsOff = await matmulGflops(n);
    report.robustnessOff = { resnet18StepMs: stepMs, [`matmul${n}Gflops`]: gflopsOff };
    log(`robustness off: resnet18 step ${stepMs.toFixed(1)} ms (on: ${cxrSteps.resnet18?.toFixed(1)}); matmul ${n}: ${gflopsOff.toFixed(0)} GFLOP/s`);
  } catch (e) {
    report.robustnessOffError = String((e as Error).message).slice(0, 1000);
    log(`robustness-off run failed: ${(e as Error).message}`);
  }
  save();
}
log(`wrote ${join(out, 'gpu-step.json')}`);
await T.destroyDevice();
