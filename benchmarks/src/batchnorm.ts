/**
 * Batch-norm passes alone on ResNet-18's layer shapes (64 px, batch 16): training statistics +
 * normalise (plain and fused residual + ReLU), backward (fused mask), eval normalise. Median ms per
 * call over `--reps` calls recorded back to back, after a warm-up (compiles excluded).
 * `pnpm exec tsx src/batchnorm.ts [--reps 30] [--rounds 3] [--sums lanes,workgroups] [--size 224]`: with --sums, the
 * per-channel sums' kernels (`setBatchNormChannelSums`) alternate shape by shape, a row each.
 */
import { loadavg } from 'node:os';
import {
  batchNorm2d,
  batchNorm2dBackward,
  getDevice,
  gpu,
  ones,
  randn,
  setBatchNormChannelSums,
  sync,
  zeros,
  type ChannelSums,
  type Tensor,
} from '@cxr/tensor';
import { numberOption, option } from './cliArgs.ts';

const reps = numberOption('--reps', 30);
const rounds = numberOption('--rounds', 3);
const variants: (ChannelSums | null)[] = (option('--sums')?.split(',') as ChannelSums[] | undefined) ?? [null];
await getDevice();
// --size 224: the study's input size at batch 8 (maps 112 down to 7 px) instead of 64 px at batch 16.
const shapes: [number, number, number, number][] =
  numberOption('--size', 64) === 224
    ? [
        [8, 64, 112, 112],
        [8, 64, 56, 56],
        [8, 128, 28, 28],
        [8, 256, 14, 14],
        [8, 512, 7, 7],
      ]
    : [
        [16, 64, 32, 32],
        [16, 64, 16, 16],
        [16, 128, 8, 8],
        [16, 256, 4, 4],
        [16, 512, 2, 2],
      ];
console.log(`${gpu().adapterName}; reps ${reps}, rounds ${rounds}; load ${loadavg()[0].toFixed(1)}`);
async function time(f: () => Tensor[]): Promise<number> {
  for (const t of f()) t.dispose();
  await sync();
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) for (const t of f()) t.dispose();
    await sync();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return best;
}
const zero = () => ({ forward: 0, fused: 0, backward: 0, eval: 0 });
const totals = new Map(variants.map((v) => [v, zero()]));
for (const shape of shapes)
  for (const variant of variants) {
    setBatchNormChannelSums(variant);
    const C = shape[1];
    const x = randn(shape);
    const dy = randn(shape);
    const w = ones([C]);
    const b = zeros([C]);
    const rm = zeros([C]);
    const rv = ones([C]);
    const fwd = (extra: object) => () => {
      const r = batchNorm2d(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: true, ...extra });
      return [r.out, r.saveMean, r.saveInvstd];
    };
    const saved = batchNorm2d(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: true, residual: x, relu: true });
    const row = {
      forward: await time(fwd({ relu: true })),
      fused: await time(fwd({ residual: x, relu: true })),
      backward: await time(() => {
        const g = batchNorm2dBackward(dy, x, w, saved.saveMean, saved.saveInvstd, { reluOut: saved.out });
        return [g.dx, g.dweight, g.dbias];
      }),
      eval: await time(fwd({ training: false, relu: true })),
    };
    const total = totals.get(variant)!;
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += row[k];
    console.log(
      `[${shape.join(',')}]${variant ? ` ${variant}` : ''}  ${Object.entries(row)
        .map(([k, v]) => `${k} ${v.toFixed(3)}`)
        .join('  ')} ms`,
    );
    for (const t of [x, dy, w, b, rm, rv, saved.out, saved.saveMean, saved.saveInvstd]) t.dispose();
  }
for (const [variant, total] of totals)
  console.log(
    `sum${variant ? ` ${variant}` : ''}  ${Object.entries(total)
      .map(([k, v]) => `${k} ${v.toFixed(3)}`)
      .join('  ')} ms; load ${loadavg()[0].toFixed(1)}`,
  );
