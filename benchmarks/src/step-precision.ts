/**
 * `--precision f16` against float32: whole training steps of one architecture (the CLI's step:
 * autocast forward, scaled loss, unscale and Inf/NaN check, Adam), both precisions in one process,
 * alternating round by round so that the machine's drift hits both alike. Reports medians and the
 * f16 / f32 ratio, with the adapter named. The adapter needs `shader-f16`.
 *
 * Standalone: `pnpm exec tsx src/step-precision.ts [--arch resnet18] [--size 64] [--batch 16] [--rounds 5] [--steps 5]`.
 */
import * as T from '@cxr/tensor';
import { autocast, crossEntropy } from '@cxr/nn';
import { isMain } from './isMain.ts';
import { trainStepRunner, type TrainStepRunner } from './step.ts';
import { numberOption, option } from './cliArgs.ts';

export interface PrecisionBench {
  adapter: string;
  config: string;
  f32Ms: number;
  f16Ms: number;
  ratio: number;
  rounds: { f32: number; f16: number }[];
  /** GPU buffer bytes the forward pass keeps for backward (activations, saved tensors, float16 weight copies; pool-bucket rounded). */
  forwardBytes: { f32: number; f16: number };
}

/** What one training forward leaves alive for its backward, then frees it with a backward. */
function forwardBytes(r: TrainStepRunner, f16: boolean): number {
  const before = T.memoryStats().inUseBytes;
  const logits = autocast(f16 ? 'float16' : null, () => r.model.forward(r.x));
  const bytes = T.memoryStats().inUseBytes - before;
  crossEntropy(logits, r.y).backward();
  r.opt.zeroGrad();
  return bytes;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function benchPrecision(
  options: { arch?: string; size?: number; batch?: number; rounds?: number; steps?: number; quick?: boolean; log?: (m: string) => void } = {},
): Promise<PrecisionBench | null> {
  const log = options.log ?? console.log;
  const g = await T.getDevice();
  if (!g.device.features.has('shader-f16')) {
    log(`step-precision: ${g.adapterName} has no shader-f16; f16 not measured`);
    return null;
  }
  const shape = { arch: options.arch ?? 'resnet18', size: options.size ?? 64, batch: options.batch ?? 16 };
  const runners = { f32: trainStepRunner({ ...shape, precision: 'f32' }), f16: trainStepRunner({ ...shape, precision: 'f16' }) };
  const steps = options.steps ?? (options.quick ? 3 : 5);
  const rounds: { f32: number; f16: number }[] = [];
  let saved = { f32: 0, f16: 0 };
  try {
    saved = { f32: forwardBytes(runners.f32, false), f16: forwardBytes(runners.f16, true) };
    log(`forward keeps ${(saved.f32 / 2 ** 20).toFixed(1)} MiB for backward in f32, ${(saved.f16 / 2 ** 20).toFixed(1)} MiB in f16`);
    // Warm-up: compile both precisions' kernels before anything is timed.
    for (const r of Object.values(runners)) for (let i = 0; i < 2; i++) await r.step();
    for (let k = 0; k < (options.rounds ?? (options.quick ? 2 : 5)); k++) {
      const row = { f32: 0, f16: 0 };
      for (const p of k % 2 ? (['f16', 'f32'] as const) : (['f32', 'f16'] as const)) {
        const times: number[] = [];
        for (let i = 0; i < steps; i++) {
          const t0 = performance.now();
          await runners[p].step();
          times.push(performance.now() - t0);
        }
        row[p] = median(times);
      }
      rounds.push(row);
      log(`round ${k + 1}: f32 ${row.f32.toFixed(1)} ms, f16 ${row.f16.toFixed(1)} ms (${(row.f16 / row.f32).toFixed(2)}x)`);
    }
  } finally {
    for (const r of Object.values(runners)) r.dispose();
  }
  const f32Ms = median(rounds.map((r) => r.f32));
  const f16Ms = median(rounds.map((r) => r.f16));
  return { adapter: g.adapterName, config: runners.f16.config, f32Ms, f16Ms, ratio: f16Ms / f32Ms, rounds, forwardBytes: saved };
}

if (isMain(import.meta.url, 'step-precision.ts')) {
  const r = await benchPrecision({
    arch: option('--arch'),
    size: numberOption('--size'),
    batch: numberOption('--batch'),
    rounds: numberOption('--rounds'),
    steps: numberOption('--steps'),
  });
  if (r) console.log(`${r.adapter}: ${r.config}: f32 ${r.f32Ms.toFixed(1)} ms, f16 ${r.f16Ms.toFixed(1)} ms per step, f16/f32 ${r.ratio.toFixed(2)}x`);
  await T.destroyDevice();
}
