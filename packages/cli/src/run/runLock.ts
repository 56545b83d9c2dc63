/**
 * An exclusive lock on a run folder for the life of a `train`: a file created with O_EXCL holding
 * the owner's PID. Two trains on one --out would otherwise both exit 0 with the last writer's
 * files, and --force against a live run would delete under it. A lock whose PID is gone (the
 * run was killed) is stale and taken over, saying so.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createFolder, lockFileName, RunFolderError } from './runFolder.ts';

export interface RunLock {
  readonly path: string;
  release(): void;
}

interface LockOwner {
  pid: number;
  host: string;
  started: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | null {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    return Number.isInteger(o.pid) ? o : null;
  } catch {
    return null; // unreadable or half-written: treated as stale below
  }
}

/** Takes the lock on `dir` (creating the folder), or throws naming the live owner. */
export function lockRunFolder(dir: string, log: (m: string) => void = () => {}): RunLock {
  createFolder(dir);
  const path = join(dir, lockFileName);
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = readOwner(path);
      if (owner && owner.pid !== process.pid && (owner.host !== hostname() || isAlive(owner.pid))) {
        const where = owner.host === hostname() ? `pid ${owner.pid}` : `pid ${owner.pid} on ${owner.host}`;
        throw new RunFolderError(
          `${dir} is in use by another cxr train (${where}, started ${owner.started}); wait for it to finish, stop it, or choose another --out`,
        );
      }
      log(`${dir}: removing a stale lock${owner ? ` of pid ${owner.pid} (no longer running)` : ''}`);
      rmSync(path, { force: true });
      continue;
    }
    writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() } satisfies LockOwner));
    closeSync(fd);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      process.off('exit', release);
      if (readOwner(path)?.pid === process.pid) rmSync(path, { force: true });
    };
    // Errors and Ctrl-C unwind through `finally`; 'exit' covers a process.exit() elsewhere.
    process.on('exit', release);
    return { path, release };
  }
  throw new RunFolderError(`${dir}: could not take the run lock ${path} (another process keeps recreating it)`);
}
