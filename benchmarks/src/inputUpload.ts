import { loadavg } from 'node:os';
import * as T from '@cxr/tensor';
import { IMAGENET_MEAN, IMAGENET_STD, toCHW, type Image } from '@cxr/data';
import { isMain } from './isMain.ts';

/**
 * What one batch costs between the loader's worker and the model's input, for grey images, both
 * ways the loader can hand it over:
 *  - before: the worker writes 3 normalised channels (toCHW), the main thread uploads N*3*H*W floats;
 *  - deferred (`deferNormalize`): the worker copies the one grey channel, the main thread uploads
 *    N*H*W floats and records `normalizeChannels`, which expands and normalises on the device.
 * Per batch: the worker's write, the main thread's upload call (T.tensor: the CPU side, what the
 * training loop waits for) and upload + expansion until the device is done (T.sync). Medians of
 * `reps` after a warm-up. The device is whatever getDevice finds (lavapipe here, a GPU in the pack).
 */
export async function benchInputUpload(opts: { shapes?: Array<[number, number]>; reps?: number } = {}): Promise<Record<string, unknown>> {
  const shapes = opts.shapes ?? [
    [32, 224],
    [16, 64],
  ];
  const reps = opts.reps ?? 15;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const report: Record<string, unknown> = { loadBefore: loadavg()[0] };
  for (const [n, size] of shapes) {
    const hw = size * size;
    const images: Image[] = Array.from({ length: n }, (_, k) => ({
      width: size,
      height: size,
      channels: 1,
      data: Float32Array.from({ length: hw }, (_, i) => ((i * 7 + k * 13) % 251) / 250),
    }));
    const three = new Float32Array(n * 3 * hw);
    const one = new Float32Array(n * hw);
    const time = async (fn: () => void | Promise<void>) => {
      await fn();
      const ms: number[] = [];
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        await fn();
        ms.push(performance.now() - t0);
      }
      return median(ms);
    };
    const workerBefore = await time(() => {
      images.forEach((im, k) => toCHW(im, three, k * 3 * hw, IMAGENET_MEAN, IMAGENET_STD));
    });
    const workerDeferred = await time(() => {
      images.forEach((im, k) => one.set(im.data, k * hw));
    });
    let callMs = 0;
    const upload = async (deferred: boolean) => {
      const t0 = performance.now();
      let x: T.Tensor;
      if (deferred) {
        const raw = T.tensor(one, [n, 1, size, size]);
        x = T.normalizeChannels(raw, IMAGENET_MEAN, IMAGENET_STD);
        raw.dispose();
      } else x = T.tensor(three, [n, 3, size, size]);
      callMs = performance.now() - t0;
      await T.sync();
      x.dispose();
    };
    const calls = { before: [] as number[], deferred: [] as number[] };
    const toDevice = { before: [] as number[], deferred: [] as number[] };
    // interleaved, so a change in the machine's load hits both alike
    for (let r = -1; r < reps; r++) {
      for (const k of ['before', 'deferred'] as const) {
        const t0 = performance.now();
        await upload(k === 'deferred');
        if (r < 0) continue;
        toDevice[k].push(performance.now() - t0);
        calls[k].push(callMs);
      }
    }
    const row = {
      bytesBefore: three.byteLength,
      bytesDeferred: one.byteLength,
      workerWriteMs: { before: workerBefore, deferred: workerDeferred },
      uploadCallMs: { before: median(calls.before), deferred: median(calls.deferred) },
      uploadAndExpandMs: { before: median(toDevice.before), deferred: median(toDevice.deferred) },
    };
    report[`batch${n}x${size}px`] = row;
  }
  report.loadAfter = loadavg()[0];
  return report;
}

if (isMain(import.meta.url, 'inputUpload.ts')) {
  const g = await T.getDevice();
  console.log(`adapter ${g.adapterName}`);
  console.log(JSON.stringify(await benchInputUpload(), null, 2));
  await T.destroyDevice();
}
