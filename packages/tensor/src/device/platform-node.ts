import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, setPriority } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { cacheDir } from '../cacheDir.ts';
import { openCompiledShaderIndex } from './compiled-shader-index-node.ts';
import { lavapipeThreads } from './lavapipeThreads.ts';
import { setPlatform } from './platform.ts';
import { startShaderPrewarmer } from './shader-prewarm-node.ts';

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
  // Only lavapipe compiles at first dispatch and keeps the result in Mesa's on-disk cache; with that
  // cache disabled a second device cannot help. CXR_PREWARM_SHADERS=0 turns it off (A/B runs).
  shaderPrewarmer(adapterName, features, limits) {
    if (!/llvmpipe|lavapipe/i.test(adapterName)) return null;
    if (/^(1|true|yes)$/i.test(process.env.MESA_SHADER_CACHE_DISABLE ?? '')) return null;
    if (/^(0|false|no)$/i.test(process.env.CXR_PREWARM_SHADERS ?? '')) return null;
    return startShaderPrewarmer({
      features: [...features],
      limits,
      nice: Number(process.env.CXR_PREWARM_NICE ?? 0),
      index: openCompiledShaderIndex(adapterName),
    });
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
