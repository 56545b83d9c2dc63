/**
 * The host's share of a training step: the default job's step (ResNet-18, 64 px, batch 16, Adam)
 * on Dawn's null backend, which validates and records everything and runs nothing, so the time is
 * JavaScript, Dawn's validation and bind-group creation. On a GPU that is the floor under a step
 * (the H200 ran ResNet-18's 224-px step in ~28 ms). The null adapter is not a CPU adapter, so the
 * GPU path's kernels (implicit GEMM) are the ones recorded.
 * `pnpm exec tsx src/record.ts [--steps 30]`
 */
import { getDevice } from '@cxr/tensor';
import { trainStepRunner } from './step.ts';

const at = process.argv.indexOf('--steps');
const steps = at >= 0 ? Number(process.argv[at + 1]) : 30;
await getDevice({ flags: ['backend=null'] });
const runner = trainStepRunner({});
for (let i = 0; i < 3; i++) await runner.step();
const t: number[] = [];
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  await runner.step();
  t.push(performance.now() - t0);
}
t.sort((a, b) => a - b);
console.log(`null backend, ${steps} steps: median ${t[Math.floor(steps / 2)].toFixed(1)} ms per step, best ${t[0].toFixed(1)} ms`);
runner.dispose();
process.exit(0);
