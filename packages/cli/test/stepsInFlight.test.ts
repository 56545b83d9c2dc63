// The training loop keeps one step in flight (oneInFlight + submitTrainStep): the next step is
// recorded before the previous one's readback is awaited. The device runs the steps in queue
// order, so the losses, predictions and weights must equal those of waiting for every step, bit
// for bit, in both precisions; the results arrive in order, one step late; memory stays flat;
// errors surface and leave no unhandled rejection behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { Adam, AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, GradScaler, Linear, noGrad, ReLU, Sequential } from '@cxr/nn';
import type { Batch, DataLoader } from '@cxr/data';
import { lossOf, predictAll, submitTrainStep, trainStep, type StepResult, type SubmittedStep } from '../src/train/steps.ts';
import { oneInFlight } from '../src/train/stepsInFlight.ts';

beforeAll(async () => {
  await T.getDevice();
});
afterAll(async () => {
  await T.destroyDevice();
});

/** Batch `k` of 5 or 6 odd-sized 11 px images, class 1 brighter (learnable in a few steps). */
function batch(k: number): Batch {
  const n = 5 + (k % 2);
  const images = new Float32Array(n * 3 * 11 * 11);
  const labels = new Int32Array(n).map((_, i) => (i + k) % 2);
  const per = 3 * 11 * 11;
  for (let i = 0; i < images.length; i++) images[i] = (Math.sin((i + 97 * k) * 12.9898) * 0.5 + (labels[Math.floor(i / per)] ? 0.6 : -0.6)) * 0.8;
  return { images, labels, files: Array.from({ length: n }, (_, i) => `b${k}-${i}.png`), shape: [n, 3, 11, 11], epoch: 0 };
}

function model(): Sequential {
  T.manualSeed(7);
  const m = new Sequential(new Conv2d(3, 5, 3, { padding: 1 }), new BatchNorm2d(5), new ReLU(), new AdaptiveAvgPool2d(1), new Flatten(), new Linear(5, 2));
  m.train();
  return m;
}

async function* batches(n: number): AsyncGenerator<Batch> {
  for (let k = 0; k < n; k++) yield batch(k);
}

async function weights(m: Sequential): Promise<Float32Array[]> {
  return Promise.all(m.parameters().map((p) => p.toArray()));
}

describe('oneInFlight with submitTrainStep', () => {
  for (const precision of ['f32', 'f16'] as const) {
    it(`${precision}: the same losses, predictions and weights as waiting for every step, in order, memory flat`, async () => {
      const steps = 7;
      const waited = model();
      const waitedOpt = new Adam(waited.parameters(), { lr: 0.05 });
      const waitedScaler = precision === 'f16' ? new GradScaler({ initScale: 256 }) : null;
      const expected: StepResult[] = [];
      for (let k = 0; k < steps; k++) expected.push(await trainStep(waited, waitedOpt, 'ce', batch(k), null, waitedScaler));

      const piped = model();
      const pipedOpt = new Adam(piped.parameters(), { lr: 0.05 });
      const pipedScaler = precision === 'f16' ? new GradScaler({ initScale: 256 }) : null;
      const got: { r: StepResult; index: number; files: string[] }[] = [];
      const live: number[] = [];
      await oneInFlight(
        batches(steps),
        (b) => submitTrainStep(piped, pipedOpt, 'ce', b, null, pipedScaler),
        (r, b, index) => {
          got.push({ r, index, files: b.files });
          live.push(T.memoryStats().liveTensors);
        },
      );
      expect(got.map((g) => g.index)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(got.map((g) => g.files[0])).toEqual(Array.from({ length: steps }, (_, k) => `b${k}-0.png`));
      expect(got.map((g) => g.r)).toEqual(expected);
      expect(expected[steps - 1].loss).toBeLessThan(expected[0].loss);
      const [a, b] = [await weights(waited), await weights(piped)];
      for (let i = 0; i < a.length; i++) expect(b[i], `parameter ${i}`).toEqual(a[i]);
      if (pipedScaler) expect(pipedScaler.scaleValue).toBe(waitedScaler!.scaleValue);
      // Adam's moments appear at the first step; nothing is added after the second readback.
      expect(new Set(live.slice(1)).size, `live tensors per step: ${live}`).toBe(1);
      for (const m of [waited, piped]) for (const p of m.parameters()) p.dispose();
      waitedOpt.dispose();
      pipedOpt.dispose();
    });
  }
});

describe('oneInFlight', () => {
  const step = (value: number, log: string[], fail?: Error): SubmittedStep => ({
    result: new Promise<StepResult>((resolve, reject) =>
      setTimeout(() => {
        log.push(`read ${value}`);
        if (fail) reject(fail);
        else resolve({ loss: value, correct: 0, count: 1, skipped: false });
      }, 5),
    ),
  });

  it('submits step k+1 before it hands over step k, skips what submit skips, and keeps the batch index', async () => {
    const log: string[] = [];
    async function* items() {
      for (const v of [1, 2, 3, 4]) {
        log.push(`batch ${v}`);
        yield v;
      }
    }
    await oneInFlight(
      items(),
      async (v) => {
        if (v === 3) return null;
        log.push(`submit ${v}`);
        return step(v, log);
      },
      (r, v, index) => log.push(`done ${r.loss} (batch ${v}, index ${index})`),
    );
    expect(log).toEqual([
      'batch 1',
      'submit 1',
      'batch 2',
      'submit 2',
      'read 1',
      'done 1 (batch 1, index 1)',
      'batch 3',
      'batch 4',
      'submit 4',
      'read 2',
      'done 2 (batch 2, index 2)',
      'read 4',
      'done 4 (batch 4, index 4)',
    ]);
  });

  it('passes on a failed readback, and a throwing done leaves the pending step without an unhandled rejection', async () => {
    const log: string[] = [];
    await expect(
      oneInFlight(
        batchesOf([1, 2]),
        async (v) => step(v, log, v === 2 ? new Error('device lost at 2') : undefined),
        () => {},
      ),
    ).rejects.toThrow('device lost at 2');
    // done throws for step 1 while step 2 (which will fail) is in flight; only done's error comes out.
    await expect(
      oneInFlight(
        batchesOf([1, 2]),
        async (v) => step(v, log, v === 2 ? new Error('late failure') : undefined),
        () => {
          throw new Error('diverged at 1');
        },
      ),
    ).rejects.toThrow('diverged at 1');
    await new Promise((r) => setTimeout(r, 20));
  });
});

async function* batchesOf<V>(values: V[]): AsyncGenerator<V> {
  for (const v of values) yield v;
}

describe('predictAll with one batch in flight', () => {
  it('gives the outputs and loss of each batch run alone and waited for, in loader order', async () => {
    const m = model();
    m.eval();
    const n = 4;
    const loader = { epoch: () => batches(n) } as unknown as DataLoader;
    const p = await predictAll(m, loader, 'ce', 0);
    expect(p.files).toEqual(Array.from({ length: n }, (_, k) => batch(k).files).flat());
    let row = 0;
    let lossSum = 0;
    for (let k = 0; k < n; k++) {
      const b = batch(k);
      const [x, y] = [T.tensor(b.images, b.shape), T.tensor(b.labels, [b.labels.length], 'int32')];
      const [logits, probs, l] = noGrad(() => {
        const lg = m.forward(x);
        return [lg, T.softmax(lg, 1), lossOf('ce', lg, y)];
      });
      const [hl, hp, lv] = [await logits.toArray(), await probs.toArray(), await l.item()];
      for (let i = 0; i < b.labels.length; i++, row++) {
        expect(p.logits[row]).toEqual(hl.slice(i * 2, i * 2 + 2));
        expect(p.probs[row]).toEqual(hp.slice(i * 2, i * 2 + 2));
        expect(p.labels[row]).toBe(b.labels[i]);
      }
      lossSum += lv * b.labels.length;
      for (const t of [x, y, logits, probs, l]) t.dispose();
    }
    expect(row).toBe(p.labels.length);
    expect(p.loss).toBe(lossSum / row);
    for (const q of m.parameters()) q.dispose();
  });
});
