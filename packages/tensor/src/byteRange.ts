import { bytesPerElement } from './dtype.ts';
import type { TensorRange } from './kernel/run.ts';
import { fmt } from './shape.ts';
import type { Tensor } from './tensor.ts';

/** The bytes of a tensor's buffer that a host transfer covers (`readTensors`, `writeTensor`). */
export interface ByteRange {
  tensor: Tensor;
  buffer: GPUBuffer;
  /** Elements. */
  count: number;
  /** Bytes from the buffer's start, and the length without rounding. */
  offset: number;
  bytes: number;
}

/**
 * A whole tensor, or a `TensorRange` (elements [offset, offset + size)), as bytes of its buffer.
 * Copies move whole 4-byte words: the range's byte offset must be a multiple of 4, and its length
 * too unless it ends the tensor (the buffer is sized in words): for float16 an even offset, and an
 * even size short of the end.
 */
export function byteRange(item: Tensor | TensorRange, op: string): ByteRange {
  const { tensor: t, offset: start, size: count } = 'tensor' in item ? item : { tensor: item, offset: 0, size: item.size };
  const bytes = bytesPerElement[t.dtype];
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > t.size) {
    throw new Error(`${op}: range [${start}, ${start} + ${count}) is outside the ${t.size} elements of a ${fmt(t.shape)} tensor`);
  }
  if ((start * bytes) % 4 !== 0 || ((count * bytes) % 4 !== 0 && start + count < t.size)) {
    throw new Error(`${op}: range [${start}, ${start} + ${count}) of a ${t.dtype} tensor does not start and end on 4-byte words`);
  }
  return { tensor: t, buffer: t.storage(op).buffer, count, offset: start * bytes, bytes: count * bytes };
}
