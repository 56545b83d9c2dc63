/**
 * Batch-norm passes alone on ResNet-18's layer shapes (64 px, batch 16): training statistics +
 * normalise (plain and fused residual + ReLU), backward (fused mask), eval normalise. Median ms per
 * call over `--reps` calls recorded back to back, after a warm-up (compiles excluded).
 * `pnpm exec tsx src/batchnorm.ts [--reps 30] [--rounds 3]`
 */
import { loadavg } from 'node:os';
import { batchNorm2d, batchNorm2dBackward, getDevice, gpu, ones, randn, sync, zeros, type Tensor } from '@cxr/tensor';

const args = process.argv.slice(2);
const val = (n: string, d: number) => {
  const i = args.indexOf(n);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const reps = val('--reps', 30);
const rounds = val('--rounds', 3);
await getDevice();
const shapes: [number, number, number, number][] = [
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
const totals = { forward: 0, fused: 0, backward: 0, eval: 0 };
for (const shape of shapes) {
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
  for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += row[k];
  console.log(
    `[${shape.join(',')}]  ${Object.entries(row)
      .map(([k, v]) => `${k} ${v.toFixed(3)}`)
      .join('  ')} ms`,
  );
  for (const t of [x, dy, w, b, rm, rv, saved.out, saved.saveMean, saved.saveInvstd]) t.dispose();
}
console.log(
  `sum  ${Object.entries(totals)
    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
    .join('  ')} ms; load ${loadavg()[0].toFixed(1)}`,
);
