import { gpu } from './device/device.ts';
import { byteRange } from './byteRange.ts';
import { float16ToFloat32 } from './float16.ts';
import { fmt } from './shape.ts';
import type { Tensor } from './tensor.ts';
import type { TensorRange } from './kernel/run.ts';

/** Host values of a read-back tensor: float32 and float16 (widened) as Float32Array, int32 as Int32Array. */
export type HostValues = Float32Array | Int32Array;

/** Tensors' values mapped on the host, valid until `release()` (see `mapTensors`). */
export interface MappedTensors {
  values: HostValues[];
  release(): void;
}

/**
 * Several tensors' values on the host with one submit and one wait, where `toArray` on each waits
 * once per tensor (on lavapipe a round trip of a few ms). Every result is held at once: the
 * caller bounds the memory by what it passes. int32 comes back exact (unlike `toArray`).
 */
export async function readTensors(tensors: readonly Tensor[]): Promise<HostValues[]> {
  const mapped = await mapTensors(tensors);
  try {
    // float16 values are already a widened copy.
    return mapped.values.map((v, i) => (tensors[i].dtype === 'float16' ? v : v.slice()));
  } finally {
    mapped.release();
  }
}

/**
 * As `readTensors`, without copying: float32 and int32 values are views of the mapped read-back
 * memory, valid until `release()` (after it they are detached, length 0), for a consumer that
 * uses them at once, such as a file writer. Copying 44 MB into fresh host memory cost as much as
 * reading it back (page faults on lavapipe's host). Release before the next read: the mapped
 * buffer is reused.
 *
 * An item may be a `TensorRange`, elements [offset, offset + size) of a tensor (`byteRange` says
 * which ranges can be copied): how a writer streams a tensor too large to hold on the host at once
 * through the one kept read-back buffer (a fresh buffer per read of VGG16's 411 MB layer paid a
 * page fault per 4 KB).
 */
export async function mapTensors(items: readonly (Tensor | TensorRange)[]): Promise<MappedTensors> {
  const ranges = items.map((item) => byteRange(item, 'readTensors'));
  const context = `readTensors (${ranges.map((r) => fmt(r.tensor.shape)).join(', ')})`.slice(0, 200);
  const mapped = await gpu().batcher.mapMany(ranges, context);
  return { values: mapped.data.map((d, i) => hostValues(ranges[i].tensor, d, ranges[i].count)), release: mapped.release };
}

/** A tensor's bytes as read back (its first `count` values), in the host type of its dtype (float16 widened to float32). */
export function hostValues(t: Tensor, data: ArrayBuffer, count = t.size): HostValues {
  if (t.dtype === 'int32') return new Int32Array(data, 0, count);
  if (t.dtype === 'float16') return float16ToFloat32(new Uint16Array(data, 0, count));
  return new Float32Array(data, 0, count);
}
