// Writing safetensors files by path (Node only; writeSafetensors() gives the bytes anywhere).

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { type HostDtype, type HostTensor, numelOf } from './hostTensor.ts';
import { type TensorsToWrite, encodeHeader, listTensors, tensorBytes } from './safetensors.ts';

/**
 * A tensor to write whose values are fetched when its turn comes (e.g. read back from the GPU).
 * The writer writes each tensor's data before it loads the next, so `load` may hand out memory
 * that is only valid until the following `load` (saveTensors: views of a mapped read-back).
 * `load` may instead give the values in consecutive flat parts (each a HostTensor of one
 * dimension, written before the next is asked for): a tensor too large to hold at once.
 */
export interface AsyncLazyTensor {
  name: string;
  dtype: HostDtype;
  shape: number[];
  load(): HostTensor | Promise<HostTensor> | AsyncIterable<HostTensor>;
}

/** Suffix of the temporary file a write goes to before its rename; a leftover is debris of a killed write. */
export function tmpPathFor(path: string): string {
  return `${path}.tmp-${process.pid}`;
}

/**
 * Writes a safetensors file tensor by tensor (lazy tensors are loaded one at a time, so peak
 * memory is the largest tensor, not the checkpoint). Writes to `path.tmp-PID`, fsyncs and renames,
 * so a crash never leaves a half-written file under the final name. A failed write (ENOSPC…)
 * removes the temporary file and names the file it was writing.
 */
export function writeSafetensorsFile(path: string, tensors: TensorsToWrite, metadata?: Record<string, string>): void {
  const list = listTensors(tensors);
  const fd = openForWrite(path);
  try {
    writeAll(fd, encodeHeader(list, metadata));
    for (const t of list) writeAll(fd, checkedBytes(t, t.load()));
    finishWrite(fd, path);
  } catch (err) {
    abandonWrite(fd, path, err);
  }
}

/** writeSafetensorsFile for tensors whose values arrive asynchronously (GPU read-backs). */
export async function writeSafetensorsFileAsync(path: string, tensors: readonly AsyncLazyTensor[], metadata?: Record<string, string>): Promise<void> {
  const fd = openForWrite(path);
  try {
    writeAll(fd, encodeHeader(tensors, metadata));
    for (const t of tensors) {
      const loaded = await t.load();
      if (Symbol.asyncIterator in loaded) await writeParts(fd, t, loaded);
      else writeAll(fd, checkedBytes(t, loaded));
    }
    finishWrite(fd, path);
  } catch (err) {
    abandonWrite(fd, path, err);
  }
}

function checkedBytes(t: { name: string; dtype: HostDtype; shape: number[] }, loaded: HostTensor): Uint8Array {
  if (loaded.dtype !== t.dtype || loaded.shape.join(',') !== t.shape.join(',')) {
    throw new Error(`tensor ${t.name} changed dtype/shape while writing`);
  }
  return tensorBytes(t.name, loaded);
}

async function writeParts(fd: number, t: AsyncLazyTensor, parts: AsyncIterable<HostTensor>): Promise<void> {
  const expected = numelOf(t.shape);
  let written = 0;
  for await (const part of parts) {
    if (part.dtype !== t.dtype || part.shape.length !== 1) throw new Error(`tensor ${t.name}: a part must be a flat ${t.dtype} tensor`);
    written += part.data.length;
    if (written > expected) break;
    writeAll(fd, tensorBytes(t.name, part));
  }
  if (written !== expected) throw new Error(`tensor ${t.name}: shape [${t.shape.join(',')}] needs ${expected} values, its parts held ${written}`);
}

function openForWrite(path: string): number {
  try {
    return openSync(tmpPathFor(path), 'w');
  } catch (err) {
    throw writeError(path, err);
  }
}

function finishWrite(fd: number, path: string): void {
  fsyncSync(fd); // the data is on disk before the rename makes it visible
  closeSync(fd);
  renameSync(tmpPathFor(path), path);
}

function abandonWrite(fd: number, path: string, err: unknown): never {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
  try {
    unlinkSync(tmpPathFor(path));
  } catch {
    // nothing to clean
  }
  throw writeError(path, err);
}

/** Errors from the file system name the file and say what a full disk means; others pass through. */
function writeError(path: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (!code) return err as Error;
  const hint = code === 'ENOSPC' ? ' (disk full: free space or write elsewhere)' : code === 'EDQUOT' ? ' (disk quota exceeded)' : '';
  return new Error(`cannot write ${path}: ${code}${hint}`, { cause: err });
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) {
    done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
  }
}
