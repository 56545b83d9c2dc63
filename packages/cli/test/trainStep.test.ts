// One training step as `cxr train` runs it, for every loss and both precisions: memory stays flat
// from step to step (the one-hot targets of bce/focal leaked a tensor a step before), the loss is
// read back, and with a loss scaler the model still learns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { Adam, AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, GradScaler, Linear, ReLU, Sequential } from '@cxr/nn';
import type { Batch } from '@cxr/data';
import { trainStep } from '../src/train/steps.ts';
import { losses } from '../src/config/trainConfig.ts';

beforeAll(async () => {
  await T.getDevice();
});
afterAll(async () => {
  await T.destroyDevice();
});

function batch(): Batch {
  const n = 6;
  const images = new Float32Array(n * 3 * 10 * 10);
  const labels = new Int32Array(n).map((_, i) => i % 2);
  // Class 1 is brighter: learnable in a few steps.
  for (let i = 0; i < images.length; i++) images[i] = (Math.sin(i * 12.9898) * 0.5 + (labels[Math.floor(i / 300)] ? 0.6 : -0.6)) * 0.8;
  return { images, labels, files: Array.from({ length: n }, (_, i) => `f${i}`), shape: [n, 3, 10, 10], epoch: 0 };
}

describe('trainStep', () => {
  for (const precision of ['f32', 'f16'] as const) {
    for (const loss of losses) {
      it(`${loss}, ${precision}: live tensors flat across steps, and the loss falls`, async () => {
        T.manualSeed(1);
        const model = new Sequential(
          new Conv2d(3, 4, 3, { padding: 1 }),
          new BatchNorm2d(4),
          new ReLU(),
          new AdaptiveAvgPool2d(1),
          new Flatten(),
          new Linear(4, 2),
        );
        model.train();
        const opt = new Adam(model.parameters(), { lr: 0.05 });
        const scaler = precision === 'f16' ? new GradScaler({ initScale: 256 }) : null;
        const b = batch();
        const live: number[] = [];
        const lossValues: number[] = [];
        for (let s = 0; s < 6; s++) {
          const r = await trainStep(model, opt, loss, b, null, scaler);
          expect(r.skipped).toBe(false);
          lossValues.push(r.loss);
          live.push(T.memoryStats().liveTensors);
        }
        // Adam's moments appear at the first step; nothing is added after it.
        expect(new Set(live.slice(1)).size, `live tensors per step: ${live}`).toBe(1);
        expect(lossValues[5]).toBeLessThan(lossValues[0]);
        for (const p of model.parameters()) p.dispose();
        opt.dispose();
      });
    }
  }
});
