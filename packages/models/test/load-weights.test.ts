import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { BatchNorm2d, Linear, Module } from '@cxr/nn';
import { NonFiniteWeightsError, loadToDevice, loadWeights, openSafetensors, saveWeights, writeSafetensorsFile } from '../src/index.ts';

class Small extends Module {
  fc = new Linear(301, 17);
  bn = new BatchNorm2d(5);
}

/** Seeded values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 31 - 1;
  });
}

async function stateOf(m: Module): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of m.stateDict()) out[k] = Array.from(t.dtype === 'int32' ? await t.toInt32Array() : await t.toArray());
  return out;
}

describe('loadWeights', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cxr-load-'));
  const uploads = () => T.gpu().batcher.uploads;
  let chunk = 0;
  beforeAll(async () => {
    await T.getDevice();
    chunk = uploads().chunkBytes;
    uploads().chunkBytes = 4096; // fc.weight (20 KB) crosses five chunks
  });
  afterAll(async () => {
    uploads().chunkBytes = chunk;
    await T.destroyDevice();
  });

  it('streams float32 tensors from the file into the model exactly, without load(); int32 the host way', async () => {
    const source = new Small();
    source.loadStateDict(
      new Map([
        ['fc.weight', T.tensor(values(17 * 301, 1), [17, 301])],
        ['fc.bias', T.tensor(values(17, 2))],
        ['bn.running_mean', T.tensor(values(5, 3))],
        ['bn.num_batches_tracked', T.tensor(new Int32Array([41]), [])],
      ]),
      { strict: false },
    );
    const path = join(dir, 'small.safetensors');
    await saveWeights(source, path);
    const file = openSafetensors(path);
    const loaded: string[] = [];
    const streamed: string[] = [];
    const lazies = file.tensors.map((t) => ({
      ...t,
      load: () => {
        loaded.push(t.name);
        return t.load();
      },
      readStored: (into: Uint8Array, at: number) => {
        if (at === 0) streamed.push(t.name);
        t.readStored!(into, at);
      },
    }));
    const target = new Small();
    await loadWeights(target, lazies);
    file.close();
    expect(await stateOf(target)).toEqual(await stateOf(source));
    expect(loaded).toEqual(['bn.num_batches_tracked']);
    expect(streamed.sort()).toEqual(['bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.weight', 'fc.bias', 'fc.weight']);
  });

  it('names a non-finite value by its element in the tensor, past the first chunk', async () => {
    const bad = values(17 * 301, 4);
    bad[2500] = Number.NEGATIVE_INFINITY; // in the third 4 KB chunk
    const source = new Small();
    source.loadStateDict(new Map([['fc.weight', T.tensor(bad, [17, 301])]]), { strict: false });
    const path = join(dir, 'bad.safetensors');
    await saveWeights(source, path);
    const target = new Small();
    await expect(loadWeights(target, path)).rejects.toThrow(NonFiniteWeightsError);
    await expect(loadWeights(target, path)).rejects.toThrow(/bad\.safetensors: tensor fc\.weight holds -Infinity at element 2500 \(non-finite weights/);
    // The device and the upload buffers still work.
    source.loadStateDict(new Map([['fc.weight', T.tensor(values(17 * 301, 5), [17, 301])]]), { strict: false });
    await saveWeights(source, path);
    await loadWeights(target, path);
    expect(Array.from(await target.fc.weight.toArray())).toEqual(Array.from(values(17 * 301, 5)));
  });

  it('loads a batch norm saved without num_batches_tracked (PyTorch < 0.4.1) with the counter at 0, as PyTorch does', async () => {
    // Checkpoints from before PyTorch 0.4.1 have no num_batches_tracked; torch loads them strictly.
    const path = join(dir, 'untracked.safetensors');
    const f = (n: number, seed: number) => values(n, seed);
    const tensors = new Map([
      ['fc.weight', { dtype: 'float32' as const, shape: [17, 301], data: f(17 * 301, 8) }],
      ['fc.bias', { dtype: 'float32' as const, shape: [17], data: f(17, 9) }],
      ['bn.weight', { dtype: 'float32' as const, shape: [5], data: f(5, 10) }],
      ['bn.bias', { dtype: 'float32' as const, shape: [5], data: f(5, 11) }],
      ['bn.running_mean', { dtype: 'float32' as const, shape: [5], data: f(5, 12) }],
      ['bn.running_var', { dtype: 'float32' as const, shape: [5], data: f(5, 13).map(Math.abs) }],
    ]);
    writeSafetensorsFile(path, tensors);
    const target = new Small();
    target.loadStateDict(new Map([['bn.num_batches_tracked', T.tensor(new Int32Array([7]), [], 'int32')]]), { strict: false });
    const result = await loadWeights(target, path);
    expect(result.missingKeys).toEqual([]);
    const state = await stateOf(target);
    expect(state['bn.num_batches_tracked']).toEqual([0]);
    for (const [k, t] of tensors) expect(state[k]).toEqual(Array.from(t.data));
    // Without its running statistics too, the batch norm is still refused.
    tensors.delete('bn.running_mean');
    writeSafetensorsFile(path, tensors);
    await expect(loadWeights(new Small(), path)).rejects.toThrow(/missing keys \(2\): bn\.running_mean, bn\.num_batches_tracked/);
  });

  it('loadToDevice: new tensors, streamed for contiguous float32, the host way for other dtypes', async () => {
    const path = join(dir, 'state.safetensors');
    const f32 = values(5000, 6);
    const half = values(7, 7).map(T.roundToHalf);
    writeSafetensorsFile(
      path,
      new Map([
        ['exp_avg', { dtype: 'float32' as const, shape: [50, 100], data: f32 }],
        ['h', { dtype: 'float16' as const, shape: [7], data: half }],
        ['step', { dtype: 'int32' as const, shape: [], data: new Int32Array([12]) }],
      ]),
    );
    const file = openSafetensors(path);
    try {
      const [a, h, step] = await Promise.all(file.tensors.map((t) => loadToDevice(t)));
      expect(a.shape).toEqual([50, 100]);
      expect(Array.from(await a.toArray())).toEqual(Array.from(f32));
      expect(h.dtype).toBe('float32');
      expect(Array.from(await h.toArray())).toEqual(Array.from(half));
      expect(Array.from(await step.toInt32Array())).toEqual([12]);
      for (const t of [a, h, step]) t.dispose();
    } finally {
      file.close();
    }
  });
});
