import { describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { gpu } from '../src/device/device.ts';
import { randomArray, useDevice } from './helpers.ts';

useDevice();

/** Tensors of every dtype and awkward sizes: odd lengths (an odd float16 count ends mid-word), one element, none. */
function mixedTensors(): { tensors: T.Tensor[]; expected: (Float32Array | Int32Array)[] } {
  const f32 = randomArray(1001, 1);
  const i32 = Int32Array.from({ length: 37 }, (_, i) => (i * 2654435761) | 0);
  const f16 = randomArray(13, 2, -4, 4).map(T.roundToHalf);
  const one = new Float32Array([-2.5]);
  const tensors = [
    T.tensor(f32, [7, 11, 13]),
    T.tensor(i32),
    T.cast(T.tensor(f16), 'float16'),
    T.tensor(one),
    T.zeros([0, 3]),
    T.tensor(randomArray(4096, 3), [64, 64]),
  ];
  return { tensors, expected: [f32, i32, f16, one, new Float32Array(0), randomArray(4096, 3)] };
}

describe('readTensors / mapTensors', () => {
  it('read every dtype and size back exactly, each as its host type, in one submit', async () => {
    const { tensors, expected } = mixedTensors();
    await T.sync();
    const before = gpu().batcher.submits;
    const values = await T.readTensors(tensors);
    expect(gpu().batcher.submits - before).toBe(1);
    expect(values.map((v) => v.constructor.name)).toEqual(['Float32Array', 'Int32Array', 'Float32Array', 'Float32Array', 'Float32Array', 'Float32Array']);
    values.forEach((v, i) => expect(Array.from(v), `tensor ${i}`).toEqual(Array.from(expected[i])));
    // Each tensor agrees with its own toArray (the per-tensor path).
    for (const [i, t] of tensors.entries()) if (t.dtype !== 'int32') expect(Array.from(values[i])).toEqual(Array.from(await t.toArray()));
    expect(Array.from(await tensors[1].toInt32Array())).toEqual(Array.from(expected[1]));
  });

  it('split over several read-back buffers when they exceed the largest one, with the same values', async () => {
    const { tensors, expected } = mixedTensors();
    const batcher = gpu().batcher;
    const limit = batcher.stagingLimit;
    batcher.stagingLimit = 16384; // the 64 x 64 tensor fills one buffer, the others share
    try {
      const values = await T.readTensors(tensors);
      values.forEach((v, i) => expect(Array.from(v), `tensor ${i}`).toEqual(Array.from(expected[i])));
      await expect(T.readTensors([T.zeros([5000])])).rejects.toThrow(/20000 bytes exceed the largest read-back buffer \(16384 bytes/);
    } finally {
      batcher.stagingLimit = limit;
    }
  });

  it('mapped values are views until release, then detached; the read-back buffer is reused', async () => {
    const x = T.tensor(randomArray(5000, 4));
    const y = T.tensor(Int32Array.from({ length: 9 }, (_, i) => -i));
    const staging = gpu().batcher.staging;
    const created = staging.created;
    const first = await T.mapTensors([x, y]);
    expect(Array.from(first.values[0])).toEqual(Array.from(randomArray(5000, 4)));
    expect(Array.from(first.values[1])).toEqual([0, -1, -2, -3, -4, -5, -6, -7, -8]);
    first.release();
    expect(first.values[0].length).toBe(0); // detached: a late use reads nothing, not stale memory
    first.release(); // twice is harmless
    const createdFirst = staging.created - created;
    for (let r = 0; r < 3; r++) {
      const again = await T.mapTensors([y, x]);
      expect(Array.from(again.values[0])).toEqual([0, -1, -2, -3, -4, -5, -6, -7, -8]);
      expect(again.values[1][4999]).toBe(randomArray(5000, 4)[4999]);
      again.release();
      // toArray goes through the same buffers.
      expect((await x.toArray())[0]).toBe(randomArray(5000, 4)[0]);
    }
    expect(createdFirst).toBeLessThanOrEqual(1);
    expect(staging.created - created).toBe(createdFirst);
  });

  it('concurrent reads each get their own buffer and their own values', async () => {
    const { tensors, expected } = mixedTensors();
    const held = await T.mapTensors([tensors[5]]); // holds the kept buffer while the others read
    const [a, b, c, d] = await Promise.all([T.readTensors(tensors), tensors[0].toArray(), T.readTensors([tensors[2], tensors[1]]), tensors[5].toArray()]);
    a.forEach((v, i) => expect(Array.from(v), `tensor ${i}`).toEqual(Array.from(expected[i])));
    expect(Array.from(b)).toEqual(Array.from(expected[0]));
    expect(Array.from(c[0])).toEqual(Array.from(expected[2]));
    expect(Array.from(c[1])).toEqual(Array.from(expected[1]));
    expect(Array.from(d)).toEqual(Array.from(expected[5]));
    expect(Array.from(held.values[0])).toEqual(Array.from(expected[5]));
    held.release();
  });

  it('map ranges of tensors: the same values as the whole, at odd offsets and sizes, ending at an odd end', async () => {
    const f32 = randomArray(1003, 5);
    const f16 = randomArray(21, 6, -4, 4).map(T.roundToHalf);
    const i32 = Int32Array.from({ length: 11 }, (_, i) => i * 7 - 30);
    const x = T.tensor(f32, [17, 59]);
    const h = T.cast(T.tensor(f16), 'float16');
    const n = T.tensor(i32);
    const mapped = await T.mapTensors([
      { tensor: x, offset: 3, size: 997 },
      x,
      { tensor: h, offset: 4, size: 17 }, // an odd size that ends the tensor: its last word is whole
      { tensor: h, offset: 0, size: 6 },
      { tensor: n, offset: 10, size: 1 },
      { tensor: x, offset: 1003, size: 0 },
    ]);
    try {
      expect(Array.from(mapped.values[0])).toEqual(Array.from(f32.subarray(3, 1000)));
      expect(Array.from(mapped.values[1])).toEqual(Array.from(f32));
      expect(Array.from(mapped.values[2])).toEqual(Array.from(f16.subarray(4)));
      expect(Array.from(mapped.values[3])).toEqual(Array.from(f16.subarray(0, 6)));
      expect(Array.from(mapped.values[4])).toEqual([i32[10]]);
      expect(mapped.values[5].length).toBe(0);
    } finally {
      mapped.release();
    }
    await expect(T.mapTensors([{ tensor: x, offset: 1000, size: 4 }])).rejects.toThrow(
      /range \[1000, 1000 \+ 4\) is outside the 1003 elements of a \[17,59\] tensor/,
    );
    await expect(T.mapTensors([{ tensor: h, offset: 3, size: 4 }])).rejects.toThrow(
      /range \[3, 3 \+ 4\) of a float16 tensor does not start and end on 4-byte words/,
    );
    await expect(T.mapTensors([{ tensor: h, offset: 2, size: 5 }])).rejects.toThrow(/does not start and end on 4-byte words/);
  });

  it('waits leave no device-loss listener behind (memory flat over steps)', async () => {
    const waiters = gpu().batcher.lostWaiters;
    const x = T.tensor(randomArray(100, 8));
    const pending = x.toArray();
    expect(waiters.size).toBe(1); // a wait in flight is listening
    await pending;
    for (let r = 0; r < 20; r++) {
      await T.readTensors([x]);
      await T.writeTensor(x, randomArray(100, 9));
      await T.sync();
    }
    expect(waiters.size).toBe(0);
  });

  it('names a disposed tensor', async () => {
    const x = T.zeros([3]);
    x.dispose();
    await expect(T.readTensors([T.ones([2]), x])).rejects.toThrow(/readTensors: tensor of shape \[3\] was used after dispose\(\)/);
  });
});
