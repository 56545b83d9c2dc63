/**
 * Device memory of the CLI's training step (trainStepRunner: Adam, cross-entropy, synthetic
 * tensors): after each step, what the live tensors hold, what the pool has handed out and keeps
 * for reuse, the buffers created so far, and the peaks within the steps so far (live tensors, and
 * buffers in use; sampled at every buffer request). Everything the pool has created is device
 * memory, and on lavapipe new memory is new host pages (~250 MB/s on the development VM: most of a
 * VGG16 run's first step).
 *
 * `pnpm exec tsx src/step-memory.ts [--arch resnet18] [--size 64] [--batch 16] [--steps 3]`
 */
import * as T from '@cxr/tensor';
import { gpu } from '../../packages/tensor/src/device/device.ts';
import { numberOption, option } from './cliArgs.ts';
import { trainStepRunner } from './step.ts';

await T.getDevice();
const arch = option('--arch') ?? 'resnet18';
const size = numberOption('--size', 64);
const batch = numberOption('--batch', 16);
const runner = trainStepRunner({ arch, size, batch });
let peakLive = 0;
let peakInUse = 0;
const pool = gpu().pool;
const acquire = pool.acquire.bind(pool);
pool.acquire = (bytes: number, label: string) => {
  const b = acquire(bytes, label);
  const s = T.memoryStats();
  peakLive = Math.max(peakLive, s.liveBytes + bytes);
  peakInUse = Math.max(peakInUse, s.inUseBytes);
  return b;
};
const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;
console.log(`${runner.config}`);
for (let i = 0; i < numberOption('--steps', 3); i++) {
  const t0 = performance.now();
  await runner.step();
  const s = T.memoryStats();
  console.log(
    `step ${i + 1}: ${(performance.now() - t0).toFixed(0)} ms; live tensors ${mb(s.liveBytes)}, buffers in use ${mb(s.inUseBytes)}, pooled ${mb(s.pooledBytes)} (device memory ${mb(s.inUseBytes + s.pooledBytes)}, ${s.buffersCreated} buffers); peaks so far: live ${mb(peakLive)}, in use ${mb(peakInUse)}`,
  );
}
runner.dispose();
process.exit(0);
