/**
 * Training-step benchmark: where a ResNet-18 step (64 px, batch 16, Adam, cross-entropy — the
 * CLI's default run) spends its time, on synthetic tensors (no data loader).
 *
 *  1. Whole steps, as the CLI runs them (forward, backward, Adam, zeroGrad, loss + argmax
 *     readback), median over several steps.
 *  2. Phases: forward / loss / backward / optimizer.step timed separately with `await sync()`
 *     between them, with the dispatches and submits each records (memoryStats).
 *  3. Per-kernel-family breakdown: every dispatch of one step is captured (pipeline, bind group,
 *     uniforms) and afterwards replayed alone, `reps` times in one submit, so its GPU time is
 *     measured without the per-dispatch recording cost of the JS side. Families are named by the
 *     kernel label (`runKernel`'s name). The sum of these is the kernels' own time; the rest of
 *     a step is dispatch recording, submits/waits and readbacks.
 *
 * `benchStep({ quick })` returns the figures as an object; standalone:
 * `pnpm exec tsx src/step.ts [--quick] [--json] [--by-shape] [--arch A] [--size PX] [--batch N] [--precision f32|f16]`.
 */
import { isMain } from './isMain.ts';
import * as T from '@cxr/tensor';
import { destroyDevice, getDevice, gpu, hasDevice, memoryStats, rand, sync } from '@cxr/tensor';
import { autocast, crossEntropy, detach, Adam, GradScaler, type Module } from '@cxr/nn';
import { createModel } from '@cxr/models';
import { flag, numberOption, option } from './cliArgs.ts';

interface Captured {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  wg: readonly [number, number, number];
  uniform: { offset: number; data: Uint8Array } | null;
}

export interface StepBench {
  config: string;
  stepMs: { median: number; best: number; all: number[] };
  dispatchesPerStep: number;
  submitsPerStep: number;
  phases: { phase: string; ms: number; dispatches: number; submits: number }[];
  kernels: { family: string; dispatches: number; ms: number; share: number }[];
  kernelSumMs: number;
  overheadMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Kernel family from a runKernel label "name in[...] out[...]". */
function familyOf(label: string): string {
  return label.split(' ')[0] || '(unlabelled)';
}

export interface TrainStepRunner {
  config: string;
  model: Module;
  opt: Adam;
  x: T.Tensor;
  y: T.Tensor;
  /** One step as packages/cli/src/train/steps.ts runs it (loss and argmax read back). */
  step: () => Promise<void>;
  dispose: () => void;
}

/**
 * The CLI's training step on synthetic tensors: `arch` with a 2-class head (as the study's
 * fine-tuning), train mode, Adam (lr 1e-3), cross-entropy; the caller owns the device.
 */
export function trainStepRunner(
  options: { arch?: string; batch?: number; size?: number; classes?: number; tuneConv?: boolean; precision?: 'f32' | 'f16' } = {},
): TrainStepRunner {
  const arch = options.arch ?? 'resnet18';
  const batch = options.batch ?? 16;
  const size = options.size ?? 64;
  const classes = options.classes ?? 2;
  const gen = new T.Generator(0);
  const model: Module = createModel(arch, { numClasses: classes, generator: gen });
  model.train();
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const x = T.keep(rand([batch, 3, size, size], { seed: 1, low: -1, high: 1 }));
  const labels = new Int32Array(batch).map((_, i) => (i * 7) % classes);
  const y = T.keep(T.tensor(labels, [batch], 'int32'));
  // --precision f16 as the CLI runs it: autocast forward, scaled loss, unscale + skip check.
  const scaler = options.precision === 'f16' ? new GradScaler() : null;
  const step = async () => {
    const logits = autocast(scaler ? 'float16' : null, () => model.forward(x));
    const kept = detach(logits);
    const l = crossEntropy(logits, y);
    let lossKept = l;
    if (scaler) lossKept = (await scaler.backwardAndStep(l, opt)).loss;
    else {
      l.backward();
      opt.step();
    }
    opt.zeroGrad();
    const pred = T.argmax(kept, 1);
    await T.readTensors([lossKept, pred]);
    l.dispose();
    lossKept.dispose();
    kept.dispose();
    pred.dispose();
    // As the CLI's step: per-shape conv tile tuning on GPU adapters after a step's first run.
    if (options.tuneConv !== false) await T.autotuneConv();
  };
  const dispose = () => {
    model.parameters().forEach((p) => p.dispose());
    opt.dispose();
    x.dispose();
    y.dispose();
  };
  const config = `${arch} ${size}px batch ${batch} ${classes} classes, Adam, cross-entropy${scaler ? ', mixed precision f16' : ''} (synthetic tensors)`;
  return { config, model, opt, x, y, step, dispose };
}

/**
 * `byShape`: group the replayed dispatches by their whole label (kernel and tensor shapes), so
 * each conv layer's passes show separately, instead of by kernel family.
 */
export async function benchStep(
  options: {
    arch?: string;
    quick?: boolean;
    batch?: number;
    size?: number;
    classes?: number;
    byShape?: boolean;
    reps?: number;
    /** false: no per-shape conv tuning (the default tiles, or choices already made). */
    tuneConv?: boolean;
    /** f16: the step under autocast with a loss scaler (needs shader-f16). */
    precision?: 'f32' | 'f16';
    log?: (m: string) => void;
  } = {},
): Promise<StepBench> {
  const log = options.log ?? (() => {});
  const steps = options.quick ? 3 : 6;
  const ownDevice = !hasDevice();
  await getDevice();
  const runner = trainStepRunner({
    arch: options.arch,
    batch: options.batch,
    size: options.size,
    classes: options.classes,
    tuneConv: options.tuneConv,
    precision: options.precision,
  });
  const { model, opt, x, y } = runner;
  const cliStep = runner.step;

  // Warm-up: compiles every pipeline and creates Adam's state.
  for (let i = 0; i < 2; i++) await cliStep();
  const times: number[] = [];
  const s0 = memoryStats();
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await cliStep();
    times.push(performance.now() - t0);
  }
  const s1 = memoryStats();
  const dispatchesPerStep = (s1.dispatches - s0.dispatches) / steps;
  const submitsPerStep = (s1.submits - s0.submits) / steps;
  log(`step: median ${median(times).toFixed(0)} ms, ${dispatchesPerStep} dispatches, ${submitsPerStep} submits`);

  // Phases, each ended by a sync.
  const phaseRuns: Record<string, { ms: number[]; d: number; s: number }> = {};
  const phase = async (name: string, fn: () => unknown) => {
    const a = memoryStats();
    const t0 = performance.now();
    const r = fn();
    if (r instanceof Promise) await r;
    await sync();
    const ms = performance.now() - t0;
    const b = memoryStats();
    const e = (phaseRuns[name] ??= { ms: [], d: 0, s: 0 });
    e.ms.push(ms);
    e.d = b.dispatches - a.dispatches;
    e.s = b.submits - a.submits;
  };
  for (let i = 0; i < steps; i++) {
    let logits: T.Tensor | null = null;
    let kept: T.Tensor | null = null;
    let l: T.Tensor | null = null;
    await phase('forward', () => {
      logits = model.forward(x);
      kept = detach(logits);
    });
    await phase('loss', () => {
      l = crossEntropy(logits!, y);
    });
    await phase('backward', () => l!.backward());
    await phase('optimizer.step', () => opt.step());
    await phase('zeroGrad', () => opt.zeroGrad());
    await phase('readback (argmax + loss)', async () => {
      const pred = T.argmax(kept!, 1);
      await Promise.all([l!.item(), pred.toInt32Array()]);
      pred.dispose();
    });
    l!.dispose();
    kept!.dispose();
  }
  const phases = Object.entries(phaseRuns).map(([p, r]) => ({ phase: p, ms: median(r.ms), dispatches: r.d, submits: r.s }));

  // Capture one step's dispatches, then replay each alone.
  const batcher = gpu().batcher as unknown as {
    dispatch: (p: GPUComputePipeline, b: GPUBindGroup, w: readonly [number, number, number]) => void;
    uniforms: (d: ArrayBuffer) => GPUBufferBinding;
    arena: GPUBuffer;
  };
  const captured: Captured[] = [];
  let pendingUniform: Captured['uniform'] = null;
  const origDispatch = batcher.dispatch;
  const origUniforms = batcher.uniforms;
  batcher.uniforms = function (this: typeof batcher, d: ArrayBuffer) {
    const r = origUniforms.call(this, d);
    pendingUniform = { offset: r.offset ?? 0, data: new Uint8Array(d.slice(0)) };
    return r;
  };
  batcher.dispatch = function (this: typeof batcher, p, b, w) {
    captured.push({
      label: (b as unknown as { label?: string }).label || (p as unknown as { label?: string }).label || '',
      pipeline: p,
      bindGroup: b,
      wg: w,
      uniform: pendingUniform,
    });
    pendingUniform = null;
    origDispatch.call(this, p, b, w);
  };
  try {
    await cliStep();
    await sync();
  } finally {
    batcher.dispatch = origDispatch;
    batcher.uniforms = origUniforms;
  }

  const device = gpu().device;
  const reps = options.reps ?? (options.quick ? 3 : 5);
  const fam = new Map<string, { n: number; ms: number }>();
  // Replays share GPU buffers with live tensors: values are garbage afterwards, timing is not.
  const replayMs = async (c: Captured) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let r = 0; r < reps; r++) {
      pass.setPipeline(c.pipeline);
      pass.setBindGroup(0, c.bindGroup);
      pass.dispatchWorkgroups(...c.wg);
    }
    pass.end();
    const cb = enc.finish();
    const t0 = performance.now();
    device.queue.submit([cb]);
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / reps;
  };
  for (const c of captured) {
    if (c.uniform) device.queue.writeBuffer(batcher.arena, c.uniform.offset, c.uniform.data);
    // Two replays, keeping the faster: one late completion callback (a tenth of a millisecond or
    // more after a submit) or one stall of the machine (a 6 ms batch-norm pass read 27 ms once)
    // does not pass for kernel time.
    const ms = Math.min(await replayMs(c), await replayMs(c));
    const f = options.byShape ? c.label : familyOf(c.label);
    const e = fam.get(f) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += ms;
    fam.set(f, e);
  }
  // An empty submit+wait, to subtract the per-replay submit cost.
  const empty: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    device.queue.submit([device.createCommandEncoder().finish()]);
    await device.queue.onSubmittedWorkDone();
    empty.push(performance.now() - t0);
  }
  const submitMs = median(empty);
  const stepMed = median(times);
  let kernelSumMs = 0;
  const kernels = [...fam.entries()]
    .map(([family, e]) => {
      const ms = Math.max(0, e.ms - (e.n * submitMs) / reps);
      kernelSumMs += ms;
      return { family, dispatches: e.n, ms, share: ms / stepMed };
    })
    .sort((a, b) => b.ms - a.ms);

  runner.dispose();
  if (ownDevice) await destroyDevice();
  return {
    config: runner.config,
    stepMs: { median: stepMed, best: Math.min(...times), all: times },
    dispatchesPerStep,
    submitsPerStep,
    phases,
    kernels,
    kernelSumMs,
    overheadMs: stepMed - kernelSumMs,
  };
}

export function formatStep(r: StepBench): string {
  const lines: string[] = [];
  lines.push(`${r.config}`);
  lines.push(
    `step: median ${r.stepMs.median.toFixed(0)} ms (best ${r.stepMs.best.toFixed(0)}), ${r.dispatchesPerStep} dispatches, ${r.submitsPerStep} submits per step`,
  );
  lines.push('phase                          ms  dispatches  submits');
  for (const p of r.phases)
    lines.push(`${p.phase.padEnd(28)} ${p.ms.toFixed(1).padStart(6)}  ${String(p.dispatches).padStart(10)}  ${String(p.submits).padStart(7)}`);
  lines.push('kernel family (replayed alone)  ms  dispatches  share of step');
  for (const k of r.kernels)
    lines.push(
      `${k.family.padEnd(k.family.length > 28 ? 90 : 28)} ${k.ms.toFixed(1).padStart(6)}  ${String(k.dispatches).padStart(10)}  ${(100 * k.share).toFixed(1).padStart(5)}%`,
    );
  lines.push(`kernels' own time ${r.kernelSumMs.toFixed(0)} ms; the rest of the step (recording, submits, waits, readbacks, JS) ${r.overheadMs.toFixed(0)} ms`);
  return lines.join('\n');
}

if (isMain(import.meta.url, 'step.ts')) {
  const r = await benchStep({
    quick: flag('--quick'),
    byShape: flag('--by-shape'),
    arch: option('--arch'),
    size: numberOption('--size'),
    batch: numberOption('--batch'),
    precision: option('--precision') as 'f32' | 'f16' | undefined,
    log: (m) => console.error(m),
  });
  console.log(flag('--json') ? JSON.stringify(r, null, 2) : formatStep(r));
}
