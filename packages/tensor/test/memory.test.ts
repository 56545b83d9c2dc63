import { describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { useDevice } from './helpers.ts';

useDevice();

describe('memory', () => {
  it('live bytes stay flat over 200 iterations of an op chain in a scope', async () => {
    const w = T.randn([64, 32], { seed: 1 });
    let x = T.randn([16, 64], { seed: 2 });
    const samples: number[] = [];
    for (let step = 0; step < 200; step++) {
      const next = T.scope(() => {
        const h = T.relu(T.matmul(x, w));
        const s = T.softmax(T.mul(h, 0.1), 1);
        return T.add(T.sum(s, 1, true), T.slice(T.concat([x, x], 1), [null, { end: 64 }]));
      });
      x.dispose();
      x = next;
      if (step % 20 === 19) {
        await T.sync();
        samples.push(T.memoryStats().inUseBytes);
      }
    }
    const stats = T.memoryStats();
    expect(new Set(samples).size).toBe(1);
    expect(stats.liveTensors).toBe(2);
    // The pool reuses buffers: the number created stops growing after the first iterations.
    const created = stats.buffersCreated;
    T.scope(() => {
      T.relu(T.matmul(x, w));
    });
    expect(T.memoryStats().buffersCreated).toBe(created);
    expect((await x.toArray()).every(Number.isFinite)).toBe(true);
  });

  it('scope keeps returned tensors and those passed to keep', () => {
    const before = T.memoryStats().liveTensors;
    let kept: T.Tensor | undefined;
    const out = T.scope(() => {
      const a = T.ones([3]);
      kept = T.keep(T.add(a, 1));
      return [T.mul(a, 2)];
    });
    expect(T.memoryStats().liveTensors).toBe(before + 2);
    expect(out[0].isDisposed).toBe(false);
    expect(kept!.isDisposed).toBe(false);
    out[0].dispose();
    kept!.dispose();
    expect(T.memoryStats().liveTensors).toBe(before);
  });

  it('views share storage until the last one is disposed', async () => {
    const a = T.tensor([1, 2, 3, 4]);
    const v = T.reshape(a, [2, 2]);
    a.dispose();
    expect(Array.from(await v.toArray())).toEqual([1, 2, 3, 4]);
    v.dispose();
    await expect(v.toArray()).rejects.toThrow(/toArray: tensor of shape \[2,2\] was used after dispose/);
  });

  it('a tensor larger than the device can hold is an error naming the op and the shape', () => {
    const elements = Math.ceil(T.gpu().limits.maxBufferSize / 4) + 1024;
    expect(() => T.zeros([elements])).toThrow(new RegExp(`full \\[${elements}\\]: needs a buffer of \\d+ bytes, over this device's maxBufferSize`));
  });
});
