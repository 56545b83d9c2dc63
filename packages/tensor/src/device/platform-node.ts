import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, setPriority } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { cacheDir } from '../cacheDir.ts';
import { lavapipeThreads } from './lavapipeThreads.ts';
import { setPlatform } from './platform.ts';

/** Node: Dawn through the `webgpu` binding, tuning results in the cache directory. */
setPlatform({
  name: 'node',
  gpu(flags) {
    Object.assign(globalThis, globals);
    // Before Dawn loads the Vulkan drivers: lavapipe reads its thread count once, at start-up.
    const threads = lavapipeThreads(process.env, availableParallelism());
    if (threads) process.env.LP_NUM_THREADS = threads;
    return create([...flags]);
  },
  noAdapterHelp:
    'no WebGPU adapter found. Install a Vulkan driver: on Debian 12, as root, add the bookworm-backports ' +
    'suite and `apt-get install libvulkan1 mesa-vulkan-drivers/bookworm-backports` (or run `bash scripts/setup.sh`).',
  // Dawn busy-polls the main thread while a promise is pending, stealing a core from lavapipe's
  // workers: lower its priority (measured up to +80%). Not with backend=null, which runs nothing.
  onCpuAdapter(flags) {
    if (flags.includes('backend=null')) return;
    try {
      setPriority(0, 19);
    } catch {
      /* not permitted: run at normal priority */
    }
  },
  cache: {
    read(name) {
      try {
        return readFileSync(join(cacheDir(), name), 'utf8');
      } catch {
        return undefined;
      }
    },
    write(name, text) {
      mkdirSync(cacheDir(), { recursive: true });
      writeFileSync(join(cacheDir(), name), text);
    },
  },
});
