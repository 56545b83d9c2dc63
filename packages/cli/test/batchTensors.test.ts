import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { DataLoader, IMAGENET_MEAN, IMAGENET_STD, loadImageFolder, mulberry32, synthesizeDataset, trainTransforms, type Dataset } from '@cxr/data';
import { batchTensors } from '../src/train/steps.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'cxr-batch-tensors-'));
let ds: Dataset;

beforeAll(async () => {
  await T.getDevice();
  await synthesizeDataset({ out: path.join(dir, 'synth'), perClass: 8, size: 64, seed: 1 });
  const train = (await loadImageFolder(path.join(dir, 'synth'), { log: () => {} })).split('train');
  // two colour files (channels differ): the batch holding them stays three-channel
  const rng = mulberry32(7);
  const colour = [0, 1].map((k) => {
    const [w, h] = [45 + k * 7, 53];
    const data = Buffer.from(Array.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? 255 : Math.floor(rng.next() * 256))));
    const file = path.join(dir, `colour${k}.png`);
    writeFileSync(file, PNG.sync.write({ width: w, height: h, data } as PNG));
    return { file, label: k };
  });
  ds = { ...train, samples: [...train.samples.slice(0, 9), ...colour] };
});

afterAll(async () => {
  await T.destroyDevice();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Largest difference in float32 spacings at the operands' scale, (|x| + |mean|) / std: the device
 * subtracts a float32 mean, so near cancellation its error is absolute, not relative to the result.
 */
function maxUlps(got: Float32Array, want: Float32Array, shape: readonly number[]): number {
  const S = shape[2] * shape[3];
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const c = Math.floor(i / S) % 3;
    // x in [0, 1]: at most 1 + mean
    const scale = (1 + IMAGENET_MEAN[c]) / IMAGENET_STD[c];
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / 2 ** (Math.floor(Math.log2(scale)) - 23));
  }
  return worst;
}

describe('batchTensors', () => {
  it('a deferred batch (one channel, normalised on the device) is the normalised batch of before, to float32 rounding', async () => {
    const opts = { batchSize: 4, transforms: trainTransforms({ size: 40 }), seed: 3, shuffle: false, workers: 0 };
    const before = [];
    for await (const b of new DataLoader(ds, opts).epoch(1)) before.push(b);
    const channels: number[] = [];
    let worst = 0;
    let k = 0;
    for await (const b of new DataLoader(ds, { ...opts, deferNormalize: true }).epoch(1)) {
      channels.push(b.shape[1]);
      const { x, y } = batchTensors(b);
      expect(x.shape).toEqual(before[k].shape);
      expect(Array.from(await y.toInt32Array())).toEqual(Array.from(before[k].labels));
      worst = Math.max(worst, maxUlps(await x.toArray(), before[k].images, x.shape));
      x.dispose();
      y.dispose();
      k++;
    }
    expect(k).toBe(before.length);
    expect(channels).toEqual([1, 1, 3]);
    console.log(`deferred vs CPU-normalised batches: worst ${worst.toFixed(2)} float32 spacings`);
    expect(worst).toBeLessThanOrEqual(2);
  });

  it('device memory stays flat across epochs of deferred batches', async () => {
    const dl = new DataLoader(ds, { batchSize: 4, transforms: trainTransforms({ size: 40 }), seed: 3, workers: 0, reuseBuffers: true, deferNormalize: true });
    const perEpoch = [];
    for (let epoch = 0; epoch < 4; epoch++) {
      for await (const b of dl.epoch(epoch)) {
        const { x, y } = batchTensors(b);
        await x.toArray();
        x.dispose();
        y.dispose();
      }
      await T.sync();
      const m = T.memoryStats();
      perEpoch.push({ live: m.liveTensors, inUse: m.inUseBytes, created: m.buffersCreated });
    }
    expect(perEpoch.at(-1)).toEqual(perEpoch[1]);
  });
});
