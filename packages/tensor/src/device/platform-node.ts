import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { cacheDir } from '../cacheDir.ts';
import { setPlatform } from './platform.ts';

/** Node: Dawn through the `webgpu` binding, tuning results in the cache directory. */
setPlatform({
  name: 'node',
  gpu(flags) {
    Object.assign(globalThis, globals);
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
