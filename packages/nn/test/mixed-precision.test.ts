import { describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { randomArray, relErr, useDevice } from '../../tensor/test/helpers.ts';
import {
  Adam,
  SGD,
  autocast,
  defineOp,
  BatchNorm2d,
  Conv2d,
  crossEntropy,
  F,
  GradScaler,
  Linear,
  Parameter,
  ReLU,
  Sequential,
  AdaptiveAvgPool2d,
  Flatten,
} from '../src/index.ts';

useDevice();

describe('F.cast', () => {
  it('casts forward and returns the gradient in the input dtype', async () => {
    const x = new Parameter(T.tensor(randomArray(10, 1, -3, 3), [10]));
    const h = F.cast(x, 'float16');
    expect(h.dtype).toBe('float16');
    expect(Array.from(await h.toArray())).toEqual(Array.from(await x.toArray(), T.roundToHalf));
    F.sum(F.mul(F.cast(h, 'float32'), 3)).backward();
    expect(x.grad?.dtype).toBe('float32');
    expect(Array.from(await x.grad!.toArray())).toEqual(Array(10).fill(3));
  });

  it('a gradient in another dtype than its input is cast to the input dtype (as PyTorch), freeing the original', async () => {
    // A rule that forgets to cast back: its float16 input gets the float32 gradient as float16.
    const sloppy = defineOp('sloppyCast', {
      forward: (x: T.Tensor) => T.cast(x, 'float32'),
      backward: (_c, dy) => [T.mul(dy, 3)],
    });
    const x = new Parameter(T.tensor([1, 2], [2]));
    const before = T.memoryStats().liveTensors;
    const root = F.sum(sloppy(F.cast(x, 'float16')));
    root.backward();
    root.dispose();
    expect(x.grad?.dtype).toBe('float32');
    expect(Array.from(await x.grad!.toArray())).toEqual([3, 3]);
    expect(T.memoryStats().liveTensors - before, 'only the gradient stays').toBe(1);
  });
});

describe('autocast', () => {
  it('Conv2d and Linear run in float16 inside the region, float32 outside; parameters stay float32 with float32 gradients', async () => {
    const conv = new Conv2d(3, 5, 3, { padding: 1 });
    const lin = new Linear(5 * 6 * 6, 4);
    const x = T.tensor(randomArray(2 * 3 * 6 * 6, 2), [2, 3, 6, 6]);
    const forward = () => lin.forward(F.flatten(F.relu(conv.forward(x)), 1));
    const y32 = forward();
    expect(y32.dtype).toBe('float32');
    const v32 = await y32.toArray(); // backward frees the graph below its root
    F.sum(F.square(y32)).backward();
    const g32 = await conv.weight.grad!.toArray();
    const l32 = await lin.weight.grad!.toArray();
    for (const p of [...conv.parameters(), ...lin.parameters()]) {
      p.grad?.dispose();
      p.grad = null;
    }
    const y16 = autocast('float16', forward);
    expect(y16.dtype).toBe('float16');
    expect(relErr(await y16.toArray(), v32)).toBeLessThan(3e-3);
    F.sum(F.square(F.cast(y16, 'float32'))).backward();
    expect(conv.weight.dtype).toBe('float32');
    expect(conv.weight.grad?.dtype).toBe('float32');
    expect(lin.bias?.grad?.dtype).toBe('float32');
    // Documented tolerance of float16 storage against float32: 1e-2 on gradients (two roundings per layer, forward and back).
    expect(relErr(await conv.weight.grad!.toArray(), g32)).toBeLessThan(1e-2);
    expect(relErr(await lin.weight.grad!.toArray(), l32)).toBeLessThan(1e-2);
    expect(() => autocast('float16', () => Promise.resolve(1))).toThrow(/synchronous/);
    expect(() => autocast('bfloat16' as 'float16', () => 1)).toThrow(/autocast: dtype must be 'float16', 'float32' or null, got "bfloat16"/);
  });

  it('a float16 activation combined with a float32 parameter: promoted forward, each gradient in its own dtype', async () => {
    const lin = new Linear(6, 3);
    const shift = new Parameter(T.tensor([0.5, -1, 2], [3]));
    const x = T.tensor(randomArray(2 * 6, 4), [2, 6]);
    const y = autocast('float16', () => F.mul(F.add(lin.forward(x), shift), shift));
    expect(y.dtype).toBe('float32');
    F.sum(y).backward();
    expect(shift.grad?.dtype).toBe('float32');
    expect(lin.weight.grad?.dtype).toBe('float32');
    // d/dW of sum((xWᵀ + b + s) · s) = s ⊗ Σx over the batch.
    const xs = await x.toArray();
    const colSum = Array.from({ length: 6 }, (_, j) => xs[j] + xs[6 + j]);
    const want = [0.5, -1, 2].flatMap((s) => colSum.map((c) => s * c));
    expect(relErr(await lin.weight.grad!.toArray(), want)).toBeLessThan(2e-3);
  });
});

describe('GradScaler', () => {
  function setup(values: number[]) {
    const p = new Parameter(T.tensor([1, 2, 3, 4], [4]));
    p.grad = T.keep(T.tensor(values, [4]));
    const opt = new Adam([p], { lr: 0.1 });
    return { p, opt };
  }

  it('unscales, steps, and grows the scale after growthInterval clean steps', async () => {
    const scaler = new GradScaler({ initScale: 8, growthInterval: 2 });
    const { p, opt } = setup([8, -16, 24, 0]);
    expect(await scaler.step(opt)).toBe(true);
    // Adam's first step moves each parameter by lr·sign(g) (0 stays).
    expect(Array.from(await p.toArray()).map((v) => Number(v.toFixed(5)))).toEqual([0.9, 2.1, 2.9, 4]);
    scaler.update();
    expect(scaler.scaleValue).toBe(8);
    p.grad = T.keep(T.tensor([8, 8, 8, 8], [4]));
    await scaler.unscale(opt);
    expect(Array.from(await p.grad.toArray())).toEqual([1, 1, 1, 1]);
    expect(await scaler.step(opt)).toBe(true);
    scaler.update();
    expect(scaler.scaleValue).toBe(16);
    expect(scaler.stateDict()).toEqual({ scale: 16, growthTracker: 0 });
  });

  it('skips the step on an Inf or NaN gradient and halves the scale; the parameter and Adam state are untouched', async () => {
    for (const bad of [Number.POSITIVE_INFINITY, Number.NaN]) {
      const scaler = new GradScaler({ initScale: 1024 });
      const { p, opt } = setup([1, bad, 1, 1]);
      expect(await scaler.step(opt)).toBe(false);
      scaler.update();
      expect(scaler.scaleValue).toBe(512);
      expect(Array.from(await p.toArray())).toEqual([1, 2, 3, 4]);
      expect(opt.state.size).toBe(0);
    }
  });

  it('unscales each optimizer of a step on its own, and a buffer shared by two gradients once', async () => {
    const a = new Parameter(T.tensor([1, 2], [2]));
    const b = new Parameter(T.tensor([3, 4], [2]));
    const oa = new SGD([a], { lr: 1 });
    const ob = new SGD([b], { lr: 1 });
    const scaler = new GradScaler({ initScale: 1024 });
    // add hands the same dy to both inputs; each parameter gets its own copy.
    const loss = F.sum(F.add(a, b));
    scaler.scale(loss).backward();
    expect(await scaler.step(oa)).toBe(true);
    expect(await scaler.step(ob)).toBe(true);
    await expect(scaler.step(ob)).rejects.toThrow(/step\(\) was already called for this optimizer/);
    scaler.update();
    expect(Array.from(await a.toArray())).toEqual([0, 1]);
    expect(Array.from(await b.toArray())).toEqual([2, 3]);
  });

  it('backwardAndStep: scaled backward, step, update; the loss is kept for its readback', async () => {
    const p = new Parameter(T.tensor([1, -1], [2]));
    const opt = new SGD([p], { lr: 0.5 });
    const scaler = new GradScaler({ initScale: 4096 });
    const { loss, stepped } = await scaler.backwardAndStep(F.sum(F.square(p)), opt);
    expect(stepped).toBe(true);
    expect(await loss.item()).toBe(2);
    loss.dispose();
    // p - 0.5 · 2p = 0
    expect(Array.from(await p.toArray())).toEqual([0, 0]);
    expect(scaler.stateDict()).toEqual({ scale: 4096, growthTracker: 1 });
  });

  it('state round-trips; bad options and out-of-order calls are refused', () => {
    const s = new GradScaler();
    expect(s.scaleValue).toBe(65536);
    s.loadStateDict({ scale: 4096, growthTracker: 7 });
    expect(s.stateDict()).toEqual({ scale: 4096, growthTracker: 7 });
    expect(() => s.update()).toThrow(/update\(\) before unscale/);
    expect(() => new GradScaler({ backoffFactor: 1 })).toThrow(/backoffFactor/);
    expect(() => s.loadStateDict({ scale: Number.NaN, growthTracker: 0 })).toThrow(/invalid saved state/);
    // The scale travels to the GPU as float32: 2^200 would be Infinity there.
    expect(() => s.loadStateDict({ scale: 2 ** 200, growthTracker: 0 })).toThrow(/invalid saved state/);
    expect(() => new GradScaler({ initScale: 2 ** 130 })).toThrow(/initScale must be a positive float32 number/);
  });
});

describe('GradScaler fused step (gradScale and skipIf in the optimizer kernels, the flag read after)', () => {
  const bits = async (t: T.Tensor) => Array.from(await t.toArray());
  /** Parameters, state step counts and state tensors, as plain data. */
  async function snapshot(params: Parameter[], opt: Adam | SGD) {
    return Promise.all(
      params.map(async (p) => {
        const s = opt.state.get(p);
        const state = s ? Object.fromEntries(await Promise.all(Object.entries(s).map(async ([k, v]) => [k, typeof v === 'number' ? v : await bits(v)]))) : null;
        return { p: await bits(p), state };
      }),
    );
  }
  const grad = (p: Parameter, values: Float32Array | number[], scale = 1) => {
    p.grad?.dispose();
    p.grad = T.keep(
      T.tensor(
        Array.from(values, (v) => v * scale),
        [values.length],
      ),
    );
  };
  // 16: the vec4 kernels; 5 and 3: one element per invocation.
  const init = [randomArray(16, 1), randomArray(5, 2), randomArray(3, 3)];
  const g1 = [randomArray(16, 4), randomArray(5, 5)];
  const g3 = [randomArray(16, 7), randomArray(5, 8), randomArray(3, 9)];
  const make = () => init.map((v) => new Parameter(T.tensor(v, [v.length])));

  it('Adam: an Inf in one gradient changes no parameter and leaves the state as never stepped; the scale backs off; the next clean step is exactly a fresh run without it', async () => {
    const ps = make();
    const opt = new Adam(ps, { lr: 0.05, weightDecay: 0.01 });
    const scaler = new GradScaler({ initScale: 1024 });
    // Step 1: c has no gradient (no state for it).
    grad(ps[0], g1[0], 1024);
    grad(ps[1], g1[1], 1024);
    expect(await scaler.step(opt)).toBe(true);
    await scaler.update();
    const before = await snapshot(ps, opt);
    expect(before.map((s) => s.state?.step ?? null)).toEqual([1, 1, null]);
    // Step 2: every parameter has a gradient, one element of b's is Inf.
    const bad = randomArray(5, 6);
    bad[3] = Number.POSITIVE_INFINITY;
    grad(ps[0], randomArray(16, 6), 1024);
    grad(ps[1], bad, 1024);
    grad(ps[2], randomArray(3, 6), 1024);
    const stepped = scaler.step(opt);
    // The flag is not awaited in step: update() waits for it, and the next step waits for update().
    const updated = scaler.update();
    expect(() => scaler.scale(T.zeros([1]))).toThrow(/await update\(\)/);
    await updated;
    expect(await stepped).toBe(false);
    expect(scaler.scaleValue).toBe(512);
    expect(opt.state.size).toBe(2);
    expect(await snapshot(ps, opt)).toEqual(before);
    // Step 3, clean, at the new scale; a fresh optimizer that never saw step 2 does the same update.
    for (let i = 0; i < 3; i++) grad(ps[i], g3[i], 512);
    expect(await scaler.step(opt)).toBe(true);
    await scaler.update();
    const fresh = make();
    const ref = new Adam(fresh, { lr: 0.05, weightDecay: 0.01 });
    grad(fresh[0], g1[0]);
    grad(fresh[1], g1[1]);
    ref.step();
    for (let i = 0; i < 3; i++) grad(fresh[i], g3[i]);
    ref.step();
    const got = await snapshot(ps, opt);
    expect(got.map((s) => s.state?.step)).toEqual([2, 2, 1]);
    expect(got).toEqual(await snapshot(fresh, ref));
  });

  for (const nesterov of [false, true]) {
    it(`SGD momentum${nesterov ? ' Nesterov' : ''}: a skipped first step creates no momentum buffer; the next step is a fresh first step`, async () => {
      const ps = make();
      const o = { lr: 0.1, momentum: 0.9, nesterov, weightDecay: 0.01 };
      const opt = new SGD(ps, o);
      const scaler = new GradScaler({ initScale: 256 });
      for (let i = 0; i < 3; i++) grad(ps[i], g3[i], 256);
      const nan = randomArray(16, 10);
      nan[0] = Number.NaN;
      grad(ps[0], nan, 256);
      const { loss, stepped } = await scaler.backwardAndStep(F.sum(ps[2]), opt);
      loss.dispose();
      expect(stepped).toBe(false);
      expect(opt.state.size).toBe(0);
      expect((await snapshot(ps, opt)).map((s) => s.p)).toEqual(init.map((v) => Array.from(v)));
      expect(scaler.scaleValue).toBe(128);
      // Two clean steps against a fresh SGD: the first takes buf = d, the second μ·buf + d.
      const fresh = make();
      const ref = new SGD(fresh, o);
      for (const g of [g3, [g1[0], g1[1], g3[2]]]) {
        for (let i = 0; i < 3; i++) grad(ps[i], g[i], scaler.scaleValue);
        expect(await scaler.step(opt)).toBe(true);
        await scaler.update();
        for (let i = 0; i < 3; i++) grad(fresh[i], g[i]);
        ref.step();
      }
      expect(await snapshot(ps, opt)).toEqual(await snapshot(fresh, ref));
    });
  }

  it('an explicit unscale (for clipping) keeps the unscale-then-step path; only a step given skipIf rolls back', async () => {
    const ps = make();
    const opt = new SGD(ps, { lr: 0.5 });
    const scaler = new GradScaler({ initScale: 8 });
    for (let i = 0; i < 3; i++) grad(ps[i], g3[i], 8);
    expect(await scaler.unscale(opt)).toBe(false);
    expect(await bits(ps[0].grad!)).toEqual(Array.from(g3[0]));
    expect(await scaler.step(opt)).toBe(true);
    await scaler.update();
    expect(() => opt.step()()).toThrow(/only a step given skipIf can be rolled back/);
  });
});

describe('mixed-precision training of a small CNN', () => {
  it('follows the float32 run: same losses within 2% over 8 Adam steps, memory flat', async () => {
    const data = T.tensor(randomArray(8 * 3 * 12 * 12, 5), [8, 3, 12, 12]);
    const labels = T.tensor(new Int32Array([0, 1, 1, 0, 1, 0, 0, 1]));
    const build = () => {
      T.manualSeed(3);
      return new Sequential(
        new Conv2d(3, 8, 3, { padding: 1, bias: false }),
        new BatchNorm2d(8),
        new ReLU(),
        new AdaptiveAvgPool2d(1),
        new Flatten(),
        new Linear(8, 2),
      );
    };
    const run = async (f16: boolean) => {
      const model = build();
      const opt = new Adam(model.parameters(), { lr: 1e-2 });
      const scaler = f16 ? new GradScaler() : null;
      const losses: number[] = [];
      const live: number[] = [];
      for (let step = 0; step < 8; step++) {
        const logits = F.cast(
          autocast(f16 ? 'float16' : null, () => model.forward(data)),
          'float32',
        );
        const loss = crossEntropy(logits, labels);
        let lossKept = loss;
        if (scaler) {
          const r = await scaler.backwardAndStep(loss, opt);
          expect(r.stepped).toBe(true);
          lossKept = r.loss;
        } else {
          loss.backward();
          opt.step();
        }
        opt.zeroGrad();
        losses.push(await lossKept.item());
        loss.dispose();
        lossKept.dispose();
        live.push(T.memoryStats().liveTensors);
      }
      return { losses, live };
    };
    const a = await run(false);
    const b = await run(true);
    expect(a.losses[7]).toBeLessThan(a.losses[0]);
    for (let i = 0; i < 8; i++) expect(Math.abs(b.losses[i] - a.losses[i]) / a.losses[i], `step ${i}`).toBeLessThan(2e-2);
    expect(new Set(b.live.slice(2)).size, `live tensors per step ${b.live}`).toBe(1);
  });
});
