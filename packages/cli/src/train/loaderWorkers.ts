import { availableParallelism } from 'node:os';

/**
 * How many threads decode images for `--workers`. 'auto': one on a CPU adapter, where lavapipe's
 * own threads need every core for the model and one worker keeps up (decoding is a few ms per
 * image against hundreds per batch step); on a GPU, all cores but the one that drives the device,
 * since there the step is fast and decoding is what limits images/s.
 */
export function loaderWorkers(setting: string, cpuAdapter: boolean, cores = availableParallelism()): number {
  if (setting !== 'auto') return Number(setting);
  return cpuAdapter ? 1 : Math.max(1, cores - 1);
}
