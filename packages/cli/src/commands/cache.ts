// `cxr cache info|clean`: the one cache directory ($CXR_CACHE, default $XDG_CACHE_HOME/cxr or
// ~/.cache/cxr). The decoded-image cache holds derived copies of patient images, so `clean`
// removes it by default; ImageNet weights (hundreds of MB to download again) only with --all.
import { existsSync, lstatSync, readdirSync, rmSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { cacheUsage, formatBytes } from '@cxr/data';
import { officialWeights } from '@cxr/models';
import { formatList } from '@cxr/nn';
import { cacheDir, shaderIndexFolder } from '@cxr/tensor/cacheDir';
import { helpExamples } from './helpExamples.ts';

/** The decoded-image cache's folder inside the cache directory. */
export const imageCacheName = 'images';

export interface CacheEntry {
  name: string;
  bytes: number;
  files: number;
  what: string;
}

function describe(name: string): string {
  if (name === imageCacheName) return 'decoded chest X-rays (training cache, capped by --cache-max-gb)';
  if ((Object.values(officialWeights) as string[]).includes(name)) return 'ImageNet weights (cxr weights pull)';
  if (name.endsWith('-tune.json')) return 'kernel tuning results';
  if (name === shaderIndexFolder) return "hashes of the shaders in Mesa's shader cache (the prewarmer skips them)";
  // `cxr weights pull` downloads into NAME.part-PID and renames; a killed download leaves the part.
  const part = /^(.+)\.part-\d+$/.exec(name);
  if (part && (Object.values(officialWeights) as string[]).includes(part[1])) return 'interrupted ImageNet weights download';
  return '';
}

/**
 * What the cache directory holds. An entry is looked at with lstat, not followed: a dangling
 * symlink, or a file that vanishes between the listing and the look (a `weights pull` in another
 * shell renaming its NAME.part-PID), made `cache info`, `cache clean` and `env` fail with a bare
 * "ENOENT: …, stat", so the cache could not even be cleaned. Such an entry is skipped or counted as
 * itself; a $CXR_CACHE that is a file gets an error that says so.
 */
export function cacheEntries(dir = cacheDir()): CacheEntry[] {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) throw new Error(`cache: ${dir} is a file, not a folder; point CXR_CACHE at a folder`);
  const out: CacheEntry[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    let st: Stats;
    try {
      st = lstatSync(full);
    } catch {
      continue; // gone since the listing
    }
    const u = st.isDirectory() ? cacheUsage(full) : { bytes: st.size, files: 1 };
    out.push({ name, ...u, what: st.isSymbolicLink() ? '' : describe(name) });
  }
  return out;
}

export function cacheInfo(dir = cacheDir()): string {
  const entries = cacheEntries(dir);
  const source = process.env.CXR_CACHE ? '$CXR_CACHE' : process.env.XDG_CACHE_HOME ? '$XDG_CACHE_HOME/cxr' : '~/.cache/cxr (set CXR_CACHE to move it)';
  const lines = [`cache ${dir} (${source})`];
  if (entries.length === 0) lines.push('  empty');
  const w = Math.max(8, ...entries.map((e) => e.name.length));
  for (const e of entries) lines.push(`  ${e.name.padEnd(w)}  ${formatBytes(e.bytes).padStart(9)}  ${String(e.files).padStart(6)} file(s)  ${e.what}`);
  const total = entries.reduce((n, e) => n + e.bytes, 0);
  lines.push(`  ${'total'.padEnd(w)}  ${formatBytes(total).padStart(9)}`);
  return lines.join('\n');
}

export interface CacheCleanResult {
  freed: number;
  /** Entries CXR did not write (no description in `cache info`): never deleted, even with --all. */
  leftAlone: string[];
}

/**
 * Removes the decoded-image cache, or with `all` every entry CXR writes. $CXR_CACHE may point at
 * a folder that holds other files too (a working folder, a shared scratch): what `cache info`
 * cannot describe is not ours to delete, so it stays and is listed.
 */
export function cacheClean(options: { all?: boolean } = {}, dir = cacheDir()): CacheCleanResult {
  let freed = 0;
  const leftAlone: string[] = [];
  for (const e of cacheEntries(dir)) {
    if (!e.what) {
      leftAlone.push(e.name);
      continue;
    }
    if (!options.all && e.name !== imageCacheName) continue;
    rmSync(join(dir, e.name), { recursive: true, force: true });
    freed += e.bytes;
  }
  return { freed, leftAlone };
}

export function cacheCommand(): Command {
  const cache = new Command('cache')
    .description('what CXR caches ($CXR_CACHE): decoded images, ImageNet weights, tuning results')
    .addHelpText('after', helpExamples(['cxr cache info', 'cxr cache clean', 'CXR_CACHE=/scratch/cxr cxr cache clean --all']));
  cache
    .command('info')
    .description('the cache directory and the size of each part')
    .addHelpText('after', helpExamples(['cxr cache info', 'CXR_CACHE=/scratch/cxr cxr cache info']))
    .action(() => {
      console.log(cacheInfo());
    });
  cache
    .command('clean')
    .description('delete the decoded-image cache (with --all: everything CXR wrote there, ImageNet weights included; other files are left alone)')
    .option('--all', 'also delete ImageNet weights and tuning results')
    .addHelpText('after', helpExamples(['cxr cache clean', 'cxr cache clean --all']))
    .action((o: { all?: boolean }) => {
      const { freed, leftAlone } = cacheClean(o);
      console.log(`freed ${formatBytes(freed)} in ${cacheDir()}`);
      if (leftAlone.length) console.log(`left alone (not written by CXR): ${formatList(leftAlone, 10)}`);
    });
  return cache;
}
