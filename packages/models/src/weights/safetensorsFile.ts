// Writing safetensors files by path (Node only; writeSafetensors() gives the bytes anywhere).

import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { type TensorsToWrite, encodeHeader, listTensors, tensorBytes } from './safetensors.ts';

/**
 * Writes a safetensors file tensor by tensor (lazy tensors are loaded one at a time, so peak
 * memory is the largest tensor, not the checkpoint). Writes to `path.tmp` and renames, so a
 * crash never leaves a half-written file under the final name.
 */
export function writeSafetensorsFile(path: string, tensors: TensorsToWrite, metadata?: Record<string, string>): void {
  const list = listTensors(tensors);
  const header = encodeHeader(list, metadata);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, header);
    for (const t of list) {
      const loaded = t.load();
      if (loaded.dtype !== t.dtype || loaded.shape.join(',') !== t.shape.join(',')) {
        throw new Error(`tensor ${t.name} changed dtype/shape while writing`);
      }
      writeAll(fd, tensorBytes(t.name, loaded));
    }
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean
    }
    throw err;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) {
    done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
  }
}
