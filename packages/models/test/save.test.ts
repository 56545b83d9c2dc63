import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { NonFiniteWeightsError, openSafetensors, saveTensors } from '../src/index.ts';
import { readGroups } from '../src/save.ts';

/** Seeded values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 31 - 1;
  });
}

describe('saveTensors', () => {
  beforeAll(async () => {
    await T.getDevice();
  });
  afterAll(() => T.destroyDevice());

  it('groups consecutive tensors up to the byte limit; a larger tensor is a group of its own', () => {
    const groups = readGroups([10, 20, 40, 5, 100, 1, 64], 64);
    expect(groups.map((g) => g.join(','))).toEqual(['0,1', '0,1', '2,3', '2,3', '4', '5', '6']);
    expect(readGroups([], 64)).toEqual([]);
  });

  it('writes every tensor exactly, reading them back a group at a time', async () => {
    const f16 = values(13, 3).map(T.roundToHalf);
    const tensors = new Map<string, T.Tensor>([
      ['a.weight', T.tensor(values(1000, 1), [10, 100])],
      ['a.bias', T.tensor(values(7, 2))],
      ['bn.num_batches_tracked', T.tensor(new Int32Array([123456789]))],
      ['half', T.cast(T.tensor(f16), 'float16')],
      ['big', T.tensor(values(3000, 4), [3, 1000])],
      ['empty', T.zeros([0])],
    ]);
    const path = join(mkdtempSync(join(tmpdir(), 'cxr-save-')), 'm.safetensors');
    await T.sync();
    const before = T.gpu().batcher.submits;
    // 4 KB groups: [a.weight, a.bias, num_batches_tracked, half] (4084 bytes), then big (12 KB,
    // larger than a group) in three parts of 1024 values, [empty] (nothing to copy): four read-backs.
    await saveTensors(path, tensors, { epoch: '3' }, { groupBytes: 4096 });
    expect(T.gpu().batcher.submits - before).toBe(4);
    const f = openSafetensors(path);
    try {
      expect(f.metadata.epoch).toBe('3');
      expect(f.tensors.map((t) => `${t.name}:${t.dtype}:${t.shape.join('x')}`)).toEqual([
        'a.weight:float32:10x100',
        'a.bias:float32:7',
        'bn.num_batches_tracked:int32:1',
        'half:float32:13',
        'big:float32:3x1000',
        'empty:float32:0',
      ]);
      const read = f.tensors.map((t) => Array.from(t.load().data as Float32Array | Int32Array));
      expect(read).toEqual([values(1000, 1), values(7, 2), [123456789], f16, values(3000, 4), []].map((v) => Array.from(v)));
    } finally {
      f.close();
    }
    for (const t of tensors.values()) t.dispose();
  });

  it('a tensor larger than a group is written in parts: float16 and a last short part exactly, a NaN named at its element', async () => {
    const f16 = values(2501, 7).map(T.roundToHalf);
    const big = values(2049, 8);
    const tensors = new Map<string, T.Tensor>([
      ['half', T.cast(T.tensor(f16), 'float16')],
      ['big', T.tensor(big, [2049])],
      ['tail', T.tensor(values(3, 9))],
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'cxr-save-'));
    const path = join(dir, 'm.safetensors');
    // 2 KB: half (10 KB on the host) in parts of 256 values, 2501 = 9 x 256 + 197; big in 9 parts.
    await saveTensors(path, tensors, {}, { groupBytes: 2048, requireFinite: true });
    const f = openSafetensors(path);
    try {
      expect(f.tensors.map((t) => `${t.name}:${t.dtype}:${t.shape.join('x')}`)).toEqual(['half:float32:2501', 'big:float32:2049', 'tail:float32:3']);
      expect(Array.from(f.tensors[0].load().data as Float32Array)).toEqual(Array.from(f16));
      expect(Array.from(f.tensors[1].load().data as Float32Array)).toEqual(Array.from(big));
      expect(Array.from(f.tensors[2].load().data as Float32Array)).toEqual(Array.from(values(3, 9)));
    } finally {
      f.close();
    }
    const bad = big.slice();
    bad[1500] = Number.POSITIVE_INFINITY; // in the sixth part of 256: the message gives the tensor's own index
    const badTensor = T.tensor(bad);
    await expect(saveTensors(join(dir, 'bad.safetensors'), new Map([['bad', badTensor]]), {}, { groupBytes: 2048, requireFinite: true })).rejects.toThrow(
      /tensor bad holds Infinity at element 1500/,
    );
    expect(readdirSync(dir)).toEqual(['m.safetensors']);
    for (const t of [...tensors.values(), badTensor]) t.dispose();
  });

  it('a non-finite value in a later group leaves no file, and reading still works after', async () => {
    const bad = values(500, 5);
    bad[321] = Number.NaN;
    const tensors = new Map<string, T.Tensor>([
      ['ok', T.tensor(values(500, 6))],
      ['bad', T.tensor(bad)],
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'cxr-save-'));
    const path = join(dir, 'm.safetensors');
    await T.sync();
    const staging = T.gpu().batcher.staging;
    await expect(saveTensors(path, tensors, {}, { requireFinite: true, groupBytes: 2000 })).rejects.toThrow(NonFiniteWeightsError);
    const afterFirst = staging.created;
    await expect(saveTensors(path, tensors, {}, { requireFinite: true, groupBytes: 2000 })).rejects.toThrow(/tensor bad holds NaN at element 321/);
    // The failed saves released their mapped read-back buffers: the later reads reuse them.
    expect((await tensors.get('ok')!.toArray())[499]).toBe(values(500, 6)[499]);
    expect(staging.created).toBe(afterFirst);
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});
