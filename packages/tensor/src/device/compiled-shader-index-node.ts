import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { cacheDir, shaderIndexFolder } from '../cacheDir.ts';

/**
 * The WGSL sources whose machine code Mesa's on-disk shader cache already holds, so that the
 * shader prewarmer leaves them alone. On a warm cache the helper's second look-up of every shader
 * bought nothing and competed with the job for the cache and the cores: ResNet-18's first step took
 * 1.2 s with the helper against 0.9 s without (benchmarks/README.md, "First epoch: shaders sent as
 * they are created").
 *
 * One file per adapter (its name carries the Mesa and LLVM versions, which key Mesa's cache too)
 * and per Mesa cache directory, in CXR's cache directory: a first line naming the identity of
 * Mesa's cache (inode and creation time of its folder), then one short hash per line. It holds
 * hashes only, no shader text and nothing of the data. When Mesa's cache has been deleted or moved the identity
 * differs and the index starts over. It can only be wrong in the harmless direction: a shader Mesa
 * has since evicted is compiled by the job's own queue instead of the helper.
 */
export interface CompiledShaderIndex {
  has(source: string): boolean;
  /** Records sources the helper has compiled (so Mesa's cache now holds them). */
  add(sources: readonly string[]): void;
}

/** Entries kept per file; a training job needs about sixty. */
const maxEntries = 20_000;
/** Files kept (one per Mesa cache folder ever used: benchmarks and tests make many). */
export const maxIndexFiles = 32;

const hashOf = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 24);

/** Mesa's cache root as `disk_cache` resolves it: MESA_SHADER_CACHE_DIR, XDG_CACHE_HOME or ~/.cache. */
function mesaShaderCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MESA_SHADER_CACHE_DIR) return env.MESA_SHADER_CACHE_DIR;
  const xdg = env.XDG_CACHE_HOME;
  return xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
}

/**
 * The folders Mesa may keep its cache in (database, single-file or multi-file), by inode and
 * creation time: a deleted folder's inode is often reused at once by the next one made, within
 * the same millisecond when a script deletes and recreates it, so the time is in nanoseconds.
 */
function mesaCacheIdentity(root: string): string {
  const parts: string[] = [];
  for (const name of ['mesa_shader_cache_db', 'mesa_shader_cache_sf', 'mesa_shader_cache']) {
    try {
      const st = statSync(join(root, name), { bigint: true });
      parts.push(`${name}:${st.ino}@${st.birthtimeNs}`);
    } catch {
      /* not there */
    }
  }
  return parts.join(' ');
}

export function openCompiledShaderIndex(adapterName: string, env: NodeJS.ProcessEnv = process.env): CompiledShaderIndex {
  const root = mesaShaderCacheRoot(env);
  const dir = join(cacheDir(env), shaderIndexFolder);
  const file = join(dir, `${hashOf(`${adapterName}\n${root}`).slice(0, 16)}.txt`);
  const known = new Set<string>();
  let header: string | null = null;
  try {
    const lines = readFileSync(file, 'utf8').split('\n');
    // Read only while Mesa's cache is the one the hashes were recorded against.
    if (lines[0] === `mesa ${mesaCacheIdentity(root)}`) {
      header = lines[0];
      for (const l of lines.slice(1)) if (l) known.add(l);
    }
  } catch {
    /* no index yet */
  }
  return {
    has: (source) => known.has(hashOf(source)),
    add(sources) {
      const fresh = sources.map(hashOf).filter((h) => !known.has(h));
      if (fresh.length === 0) return;
      for (const h of fresh) known.add(h);
      try {
        const identity = `mesa ${mesaCacheIdentity(root)}`;
        mkdirSync(dir, { recursive: true });
        if (header !== identity || known.size > maxEntries) {
          // A new or moved Mesa cache (or a full index): start the file over with what is known now.
          const keep = [...known].slice(-maxEntries / 2);
          writeFileSync(file, `${identity}\n${keep.join('\n')}\n`);
          header = identity;
          pruneOldest(dir, file);
        } else {
          appendFileSync(file, `${fresh.join('\n')}\n`);
        }
      } catch {
        /* a read-only cache directory: the index stays in memory */
      }
    },
  };
}

/** Keeps the `maxIndexFiles` most recently written files of the folder (`keep` among them). */
function pruneOldest(dir: string, keep: string): void {
  const files = readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((f) => f !== keep)
    .map((f) => ({ f, t: statSync(f).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of files.slice(maxIndexFiles - 1)) rmSync(f, { force: true });
}
