/**
 * Atomic file writes: write to a temporary sibling, fsync, then rename over the target. rename is
 * atomic on POSIX filesystems, so a reader (or a resumed run after Ctrl-C / a crash) sees either
 * the old complete file or the new complete file, never a truncated one that looks finished.
 */
import { closeSync, copyFileSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Prefix of in-progress files; anything starting with it is debris from an interrupted write. */
export const tmpPrefix = '.tmp-';

/** A temporary sibling of `path`: pid + random suffix, so two processes (e.g. shards sharing a folder by mistake) never share one. */
function tmpSibling(path: string): string {
  return join(dirname(path), `${tmpPrefix}${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 8)}`);
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = tmpSibling(path);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (error) {
    throw writeError(path, error);
  }
  try {
    writeFileSync(fd, data); // loops over partial writes itself
    fsyncSync(fd); // data on disk before the rename makes it visible
  } catch (error) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw writeError(path, error);
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw writeError(path, error);
  }
}

/**
 * `path` becomes a file with the bytes of `from`, atomically: a hard link where the file system
 * has them (no bytes copied; safe because every writer here replaces files by rename and never
 * writes into one), else a copy, fsynced. Either way a tmp sibling renamed over `path`.
 */
export function linkOrCopyAtomic(from: string, path: string): void {
  const tmp = tmpSibling(path);
  try {
    try {
      linkSync(from, tmp);
    } catch {
      copyFileSync(from, tmp);
      const fd = openSync(tmp, 'r+');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    renameSync(tmp, path);
    // rename(2) does nothing when both names are already links to one file: the tmp name stays.
    rmSync(tmp, { force: true });
  } catch (error) {
    rmSync(tmp, { force: true });
    throw writeError(path, error);
  }
}

/** A file-system error names the file being written (a bare "ENOSPC" does not say which). */
function writeError(path: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (!code) return error as Error;
  const hint = code === 'ENOSPC' ? ' (disk full: free space or write elsewhere)' : '';
  return new Error(`cannot write ${path}: ${code}${hint}`, { cause: error });
}

/** JSON with a trailing newline, pretty-printed so config.json and metrics.json diff well. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
