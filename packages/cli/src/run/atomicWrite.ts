/**
 * Atomic file writes: write to a temporary sibling, fsync, then rename over the target. rename is
 * atomic on POSIX filesystems, so a reader (or a resumed run after Ctrl-C / a crash) sees either
 * the old complete file or the new complete file, never a truncated one that looks finished.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Prefix of in-progress files; anything starting with it is debris from an interrupted write. */
export const tmpPrefix = '.tmp-';

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  // pid + random suffix: two processes (e.g. shards sharing a folder by mistake) never share a tmp file.
  const tmp = join(dirname(path), `${tmpPrefix}${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 8)}`);
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
