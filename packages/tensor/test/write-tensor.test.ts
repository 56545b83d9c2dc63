import { describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { gpu } from '../src/device/device.ts';
import { randomArray, useDevice } from './helpers.ts';

useDevice();

/** Runs `body` with the upload chunk lowered to `bytes`, so that small tensors cross chunk boundaries. */
async function withChunk<R>(bytes: number, body: () => Promise<R>): Promise<R> {
  const uploads = gpu().batcher.uploads;
  const chunk = uploads.chunkBytes;
  uploads.chunkBytes = bytes;
  try {
    return await body();
  } finally {
    uploads.chunkBytes = chunk;
  }
}

describe('writeTensor', () => {
  it('writes every dtype exactly, in chunks, odd sizes included (float16 narrowed as tensor() does)', async () => {
    const f32 = randomArray(1001, 1);
    const i32 = Int32Array.from({ length: 37 }, (_, i) => (i * 2654435761) | 0);
    const f16 = randomArray(13, 2, -4, 4);
    const x = T.zeros([7, 11, 13]);
    const n = T.zeros([37], 'int32');
    const h = T.zeros([13], 'float16');
    await withChunk(64, async () => {
      await T.writeTensor(x, f32);
      await T.writeTensor(n, i32);
      await T.writeTensor(h, f16);
    });
    expect(Array.from(await x.toArray())).toEqual(Array.from(f32));
    expect(Array.from(await n.toInt32Array())).toEqual(Array.from(i32));
    expect(Array.from(await h.toArray())).toEqual(Array.from(f16.map(T.roundToHalf)));
    expect(Array.from(await h.toArray())).toEqual(Array.from(await T.cast(T.tensor(f16), 'float16').toArray()));
  });

  it('a range changes only its elements; a fill sees consecutive chunks covering the range once', async () => {
    const before = randomArray(1001, 3);
    const part = randomArray(500, 4);
    const x = T.tensor(before);
    const seen: [number, number][] = [];
    await withChunk(64, () =>
      T.writeTensor({ tensor: x, offset: 301, size: 500 }, (into, at) => {
        seen.push([at, into.length]);
        into.set(new Uint8Array(part.buffer, at, into.length));
      }),
    );
    const expected = before.slice();
    expected.set(part, 301);
    expect(Array.from(await x.toArray())).toEqual(Array.from(expected));
    // 2000 bytes in chunks of 64: 31 full ones and 16 bytes.
    expect(seen.length).toBe(32);
    seen.forEach(([at, len], i) => {
      expect(at).toBe(i * 64);
      expect(len).toBe(i < 31 ? 64 : 16);
    });
    // A float16 range that ends the tensor on a half word: the fill gets exactly its 10 bytes.
    const h = T.cast(T.tensor(randomArray(13, 5)), 'float16');
    const lengths: number[] = [];
    await T.writeTensor({ tensor: h, offset: 8, size: 5 }, (into) => {
      lengths.push(into.length);
      new Uint16Array(into.buffer, into.byteOffset, 5).set(T.float32ToFloat16(new Float32Array([1, 2, 3, 4, 5])));
    });
    expect(lengths).toEqual([10]);
    expect(Array.from((await h.toArray()).subarray(8))).toEqual([1, 2, 3, 4, 5]);
  });

  it('runs in order: work recorded before sees the old values, work after the new', async () => {
    const x = T.tensor(new Float32Array([1, 2, 3, 4]));
    const before = T.mul(x, 2); // recorded, not yet submitted
    await T.writeTensor(x, new Float32Array([10, 20, 30, 40]));
    const after = T.mul(x, 2);
    expect(Array.from(await before.toArray())).toEqual([2, 4, 6, 8]);
    expect(Array.from(await after.toArray())).toEqual([20, 40, 60, 80]);
  });

  it('concurrent writes each land whole (they take turns with the two buffers)', async () => {
    const xs = [0, 1, 2, 3].map(() => T.zeros([1000]));
    await withChunk(256, () => Promise.all(xs.map((x, i) => T.writeTensor(x, randomArray(1000, 20 + i)))));
    for (const [i, x] of xs.entries()) expect(Array.from(await x.toArray()), `tensor ${i}`).toEqual(Array.from(randomArray(1000, 20 + i)));
  });

  it('keeps its two upload buffers across many writes', async () => {
    const uploads = gpu().batcher.uploads;
    const x = T.zeros([4096]);
    await T.writeTensor(x, randomArray(4096, 6));
    const created = uploads.created;
    for (let r = 0; r < 10; r++) await T.writeTensor(x, randomArray(4096, 7 + r));
    expect(uploads.created).toBe(created);
    expect((await x.toArray())[4095]).toBe(randomArray(4096, 16)[4095]);
  });

  it('refuses the wrong host type, length or range by name; a fill that throws leaves the device usable', async () => {
    const x = T.zeros([10]);
    await expect(T.writeTensor(x, new Int32Array(10))).rejects.toThrow(/writeTensor: a float32 tensor takes a Float32Array, not Int32Array/);
    await expect(T.writeTensor(T.zeros([2], 'int32'), new Float32Array(2))).rejects.toThrow(/takes an Int32Array, not Float32Array/);
    await expect(T.writeTensor(x, new Float32Array(9))).rejects.toThrow(/writeTensor: 9 values for 10 elements of a \[10\] tensor/);
    await expect(T.writeTensor({ tensor: x, offset: 8, size: 3 }, new Float32Array(3))).rejects.toThrow(/range \[8, 8 \+ 3\) is outside the 10 elements/);
    await expect(
      T.writeTensor(x, () => {
        throw new Error('disk gone');
      }),
    ).rejects.toThrow('disk gone');
    await T.writeTensor(x, new Float32Array(10).fill(7));
    expect(Array.from(await x.toArray())).toEqual(new Array(10).fill(7));
  });
});
