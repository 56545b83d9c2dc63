import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * The one directory where CXR keeps what it can rebuild (tuning results, downloaded weights,
 * decoded-image caches): `$CXR_CACHE`, else `$XDG_CACHE_HOME/cxr`, else `~/.cache/cxr`.
 * It lives in the lowest package, free of GPU code, so tensor's autotune cache and models' weight
 * cache read the same function (also as `@cxr/tensor/cacheDir`, without loading WebGPU).
 * A relative or empty `XDG_CACHE_HOME` is ignored, as the XDG spec says.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CXR_CACHE) return env.CXR_CACHE;
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'cxr');
  return join(homedir(), '.cache', 'cxr');
}

/** The folder, inside `cacheDir()`, listing by hash the shaders Mesa's cache already holds (device/compiled-shader-index-node.ts). */
export const shaderIndexFolder = 'shader-index';
