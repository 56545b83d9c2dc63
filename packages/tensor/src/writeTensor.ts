import { gpu } from './device/device.ts';
import { byteRange } from './byteRange.ts';
import { float32ToFloat16 } from './float16.ts';
import { fmt } from './shape.ts';
import type { Tensor } from './tensor.ts';
import type { TensorRange } from './kernel/run.ts';

/**
 * Fills bytes [at, at + into.length) of a transfer's data (the tensor's dtype, little-endian) into
 * mapped upload memory: how a file reader writes a tensor without a host copy of it.
 */
export type FillBytes = (into: Uint8Array, at: number) => void;

/**
 * Writes host values into a tensor, or into a `TensorRange` of one, in place (after everything
 * recorded so far), through two kept upload buffers a 16 MB chunk at a time. For large data this
 * is the fast way in: `tensor()`'s `writeBuffer` stages through new memory on every call (~1.3 s
 * for VGG16's 411 MB layer on lavapipe, against ~35 ms here), and host memory stays at the two
 * chunks. `source`: values of the tensor's host type (Float32Array for float32 and float16, which
 * is narrowed; Int32Array for int32), as many as the range holds; or a `FillBytes` that writes the
 * raw bytes itself. Await it before the tensor is read; if `source` throws, the chunks before are
 * written and the rest is not.
 */
export async function writeTensor(target: Tensor | TensorRange, source: Float32Array | Int32Array | FillBytes): Promise<void> {
  const r = byteRange(target, 'writeTensor');
  const t = r.tensor;
  let fill: FillBytes;
  if (typeof source === 'function') fill = source;
  else {
    const int = t.dtype === 'int32';
    if (int ? !(source instanceof Int32Array) : !(source instanceof Float32Array)) {
      throw new Error(`writeTensor: a ${t.dtype} tensor takes ${int ? 'an Int32Array' : 'a Float32Array'}, not ${source.constructor.name}`);
    }
    if (source.length !== r.count) throw new Error(`writeTensor: ${source.length} values for ${r.count} elements of a ${fmt(t.shape)} tensor`);
    fill =
      t.dtype === 'float16'
        ? (into, at) =>
            float32ToFloat16(source.subarray(at / 2, at / 2 + into.length / 2) as Float32Array, new Uint16Array(into.buffer, into.byteOffset, into.length / 2))
        : (into, at) => into.set(new Uint8Array(source.buffer, source.byteOffset + at, into.length));
  }
  // Whole words: a range that ends the tensor on a half word gets the word's padding too, which
  // no element reads; `fill` sees only the range's own bytes.
  const padded = Math.ceil(r.bytes / 4) * 4;
  await gpu().batcher.uploadMapped(
    r.buffer,
    r.offset,
    padded,
    (into, at) => fill(into.subarray(0, Math.max(0, Math.min(into.length, r.bytes - at))), at),
    `writeTensor ${fmt(t.shape)}`,
  );
}
