/**
 * Worker threads for Mesa's CPU drivers (lavapipe/llvmpipe read `LP_NUM_THREADS` when the Vulkan
 * instance starts; their default is one per core). Each dispatch is split evenly over the workers,
 * and the main thread (Dawn's polling, recording the next kernels) shares those cores, so with one
 * worker per core every dispatch waits for the worker that lost its core. Twice as many workers
 * balance: on a 2-vCPU EPYC the ResNet-18 64 px training step went from 411–495 ms to 330–345 ms
 * and the default job's epochs from 4.2–4.9 s to 3.7–3.8 s (benchmarks/README.md). A value the
 * user set is kept; GPU adapters never read it.
 */
export function lavapipeThreads(env: Record<string, string | undefined>, cores: number): string | undefined {
  if (env.LP_NUM_THREADS !== undefined && env.LP_NUM_THREADS !== '') return undefined;
  // llvmpipe caps its pool at 32 threads.
  return String(Math.min(32, Math.max(2, 2 * Math.floor(cores))));
}
