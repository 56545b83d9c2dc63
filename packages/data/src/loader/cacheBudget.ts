/**
 * The decoded-image cache holds derived copies of patient images, so it is bounded: before a run
 * fills it, entries written longest ago are deleted until the run's expected share fits under the
 * cap. If the run alone would exceed the cap, the caller reads the originals instead.
 */
import { readdirSync, rmSync, statSync, type Dirent } from 'node:fs';
import path from 'node:path';

export interface CacheUsage {
  bytes: number;
  files: number;
}

interface Entry {
  file: string;
  bytes: number;
  mtimeMs: number;
}

function walk(dir: string, out: Entry[]): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // absent or unreadable: nothing cached there
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) walk(full, out);
    else if (e.isFile()) {
      // Another writer's temporary file can be renamed (or an entry pruned) between readdir and
      // stat. Throwing here failed the measurement that a thread's first capped cache write, a
      // loader's construction and the start-of-run prune depend on (ENOENT in ~1 of 5 measurements
      // while one other thread wrote entries); failing at a write, it failed the image with it.
      let st: ReturnType<typeof statSync> | undefined;
      try {
        st = statSync(full);
      } catch {
        continue; // gone: its bytes are the writer's, already reserved in the run's ledger
      }
      out.push({ file: full, bytes: st.size, mtimeMs: st.mtimeMs });
    }
  }
}

/** Bytes and files below `dir` (0 when it does not exist). */
export function cacheUsage(dir: string): CacheUsage {
  const entries: Entry[] = [];
  walk(dir, entries);
  return { bytes: entries.reduce((n, e) => n + e.bytes, 0), files: entries.length };
}

/** Deletes the oldest files below `dir` until it holds at most `maxBytes`; returns what was freed. */
export function pruneCache(dir: string, maxBytes: number): CacheUsage {
  const entries: Entry[] = [];
  walk(dir, entries);
  let total = entries.reduce((n, e) => n + e.bytes, 0);
  const freed = { bytes: 0, files: 0 };
  entries.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.file < b.file ? -1 : 1));
  for (const e of entries) {
    if (total <= maxBytes) break;
    rmSync(e.file, { force: true });
    total -= e.bytes;
    freed.bytes += e.bytes;
    freed.files++;
  }
  return freed;
}

/**
 * Upper bound of one cache entry: 3 bytes a pixel (8-bit colour, or 16-bit grey with room to
 * spare), shorter side `size`, aspect up to 2:1. Images are not shrunk to fit it, so the writer
 * (cacheWriter.ts) skips any entry above it (a 240x1920 image, 16-bit colour) and `images` times
 * this stays a true bound of what a run adds.
 */
export function cachedImageBytes(size: number): number {
  return 16 + size * size * 2 * 3;
}

/** 1536 -> '1.5 KB'; for the announcements. */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}
