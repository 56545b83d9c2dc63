import { describe, expect, it } from 'vitest';
import { tensor, memoryStats } from '@cxr/tensor';
import { randomArray, relErr, useDevice } from '../../tensor/test/helpers.ts';
import { Adam, AdamW, clipGradNorm, CosineAnnealingLR, LinearWarmup, Parameter, SGD, StepLR } from '../src/index.ts';

useDevice();

const n = 13;
const grads = [randomArray(n, 11), randomArray(n, 12), randomArray(n, 13)];

function sgdRef(p0: Float32Array, o: { lr: number; momentum: number; dampening: number; wd: number; nesterov: boolean }): Float64Array {
  const p = Float64Array.from(p0);
  let buf: Float64Array | null = null;
  for (const g of grads) {
    const d = Float64Array.from(g, (v, i) => v + o.wd * p[i]);
    if (o.momentum) {
      if (!buf) buf = Float64Array.from(d);
      else for (let i = 0; i < n; i++) buf[i] = o.momentum * buf[i] + (1 - o.dampening) * d[i];
      for (let i = 0; i < n; i++) d[i] = o.nesterov ? d[i] + o.momentum * buf[i] : buf[i];
    }
    for (let i = 0; i < n; i++) p[i] -= o.lr * d[i];
  }
  return p;
}

function adamRef(p0: Float32Array, o: { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean }): Float64Array {
  const p = Float64Array.from(p0);
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  grads.forEach((g0, k) => {
    const t = k + 1;
    for (let i = 0; i < n; i++) {
      let g = g0[i];
      if (o.decoupled) p[i] *= 1 - o.lr * o.wd;
      else g += o.wd * p[i];
      m[i] = o.b1 * m[i] + (1 - o.b1) * g;
      v[i] = o.b2 * v[i] + (1 - o.b2) * g * g;
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - o.b2 ** t) + o.eps;
      p[i] -= (o.lr / (1 - o.b1 ** t)) * (m[i] / denom);
    }
  });
  return p;
}

async function run(make: (p: Parameter) => { step(): void; zeroGrad(): void; dispose(): void }): Promise<Float32Array> {
  const p0 = randomArray(n, 5);
  const p = new Parameter(tensor(p0, [n]));
  const opt = make(p);
  for (const g of grads) {
    p.grad = tensor(g, [n]);
    opt.step();
    opt.zeroGrad();
  }
  const out = await p.toArray();
  opt.dispose();
  p.dispose();
  return out;
}

describe('optimizers against float64 references (3 steps)', () => {
  const p0 = randomArray(n, 5);
  for (const o of [
    { lr: 0.1, momentum: 0, dampening: 0, wd: 0, nesterov: false },
    { lr: 0.1, momentum: 0.9, dampening: 0, wd: 5e-4, nesterov: false },
    { lr: 0.05, momentum: 0.9, dampening: 0.3, wd: 0.01, nesterov: false },
    { lr: 0.05, momentum: 0.8, dampening: 0, wd: 0.01, nesterov: true },
  ]) {
    it(`SGD ${JSON.stringify(o)}`, async () => {
      const out = await run((p) => new SGD([p], { lr: o.lr, momentum: o.momentum, dampening: o.dampening, weightDecay: o.wd, nesterov: o.nesterov }));
      expect(relErr(out, sgdRef(p0, o))).toBeLessThan(1e-6);
    });
  }
  for (const o of [
    { lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, decoupled: false },
    { lr: 0.01, b1: 0.8, b2: 0.99, eps: 1e-6, wd: 0.1, decoupled: false },
    { lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1, decoupled: true },
  ]) {
    it(`Adam ${JSON.stringify(o)}`, async () => {
      const opts = { lr: o.lr, betas: [o.b1, o.b2] as const, eps: o.eps, weightDecay: o.wd };
      const out = await run((p) => (o.decoupled ? new AdamW([p], opts) : new Adam([p], opts)));
      expect(relErr(out, adamRef(p0, o))).toBeLessThan(1e-6);
    });
  }

  it('parameter groups use their own lr; frozen/gradless params are untouched', async () => {
    const a = new Parameter(tensor([1, 2], [2]));
    const b = new Parameter(tensor([1, 2], [2]));
    const c = new Parameter(tensor([1, 2], [2]), false);
    const opt = new SGD([{ params: [a], lr: 0.1 }, { params: [b, c] }], { lr: 1 });
    a.grad = tensor([1, 1], [2]);
    b.grad = tensor([1, 1], [2]);
    opt.step();
    expect(Array.from(await a.toArray())).toEqual([Math.fround(0.9), Math.fround(1.9)]);
    expect(Array.from(await b.toArray())).toEqual([0, 1]);
    expect(Array.from(await c.toArray())).toEqual([1, 2]);
    opt.zeroGrad();
    for (const t of [a, b, c]) t.dispose();
  });

  // An Adam that has taken the three steps, and one more step each for two runs (then compared).
  const trainedAdam = (seed: number) => {
    const pa = new Parameter(tensor(randomArray(n, seed), [n]));
    const optA = new Adam([pa], { lr: 0.01 });
    for (const g of grads) {
      pa.grad = tensor(g, [n]);
      optA.step();
      optA.zeroGrad();
    }
    return { pa, optA };
  };
  const oneMoreStep = (runs: [Parameter, Adam][], g: Float32Array) => {
    for (const [p, o] of runs) {
      p.grad = tensor(g, [n]);
      o.step();
      o.zeroGrad();
    }
  };

  it('stateDict/loadStateDict resume exactly', async () => {
    const { pa, optA } = trainedAdam(7);
    // resume: copy params + optimizer state into a fresh optimizer, then one more step each
    const pb = new Parameter(tensor(await pa.toArray(), [n]));
    const optB = new Adam([pb], { lr: 0.5 });
    optB.loadStateDict(optA.stateDict());
    expect(optB.paramGroups[0].lr).toBe(0.01);
    oneMoreStep(
      [
        [pa, optA],
        [pb, optB],
      ],
      grads[0],
    );
    expect(Array.from(await pb.toArray())).toEqual(Array.from(await pa.toArray()));
    optA.dispose();
    optB.dispose();
    pa.dispose();
    pb.dispose();
  });

  it('loadStateDict({ take }) keeps the given tensors, resumes exactly, and refuses before changing anything', async () => {
    const { pa, optA } = trainedAdam(8);
    const saved = optA.stateDict().state.get(0)!;
    // As a checkpoint is read: new tensors holding the saved values.
    const fresh = async () => {
      const s: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(saved)) s[k] = typeof v === 'number' ? v : tensor(await v.toArray(), [n]);
      return s as typeof saved;
    };
    const pb = new Parameter(tensor(await pa.toArray(), [n]));
    const optB = new Adam([pb], { lr: 0.5 });
    const given = await fresh();
    const before = memoryStats().liveTensors;
    optB.loadStateDict({ state: new Map([[0, given]]), paramGroups: optA.stateDict().paramGroups }, { take: true });
    // Taken, not copied: the same tensor objects, and no new ones.
    expect(memoryStats().liveTensors).toBe(before);
    for (const [k, v] of Object.entries(given)) expect(optB.state.get(pb)![k]).toBe(v);
    oneMoreStep(
      [
        [pa, optA],
        [pb, optB],
      ],
      grads[1],
    );
    expect(Array.from(await pb.toArray())).toEqual(Array.from(await pa.toArray()));

    // Refused dicts leave the optimizer's state and the caller's tensors alone.
    const stateBefore = { ...optB.state.get(pb)! };
    const wrongShape = await fresh();
    const key = Object.keys(wrongShape).find((k) => typeof wrongShape[k] !== 'number')!;
    (wrongShape[key] as { dispose(): void }).dispose();
    wrongShape[key] = tensor(new Float32Array(n + 1), [n + 1]);
    const groups = optB.stateDict().paramGroups;
    expect(() => optB.loadStateDict({ state: new Map([[0, wrongShape]]), paramGroups: groups }, { take: true })).toThrow(`${key} of parameter 0 is [${n + 1}]`);
    const shared = await fresh();
    const view = (shared[key] as ReturnType<typeof tensor>).view([n]);
    expect(() => optB.loadStateDict({ state: new Map([[0, shared]]), paramGroups: groups }, { take: true })).toThrow('shares its storage');
    const twice = await fresh();
    const other = Object.keys(twice).find((k) => k !== key && typeof twice[k] !== 'number')!;
    const spare = twice[other] as ReturnType<typeof tensor>;
    twice[other] = twice[key]!;
    expect(() => optB.loadStateDict({ state: new Map([[0, twice]]), paramGroups: groups }, { take: true })).toThrow('given twice');
    // Disposed or of another dtype: refused too, copying or taking.
    const gone = await fresh();
    (gone[key] as { dispose(): void }).dispose();
    for (const take of [false, true])
      expect(() => optB.loadStateDict({ state: new Map([[0, gone]]), paramGroups: groups }, { take })).toThrow(`${key} of parameter 0 was disposed`);
    const ints = await fresh();
    (ints[key] as { dispose(): void }).dispose();
    ints[key] = tensor(new Int32Array(n), [n], 'int32');
    expect(() => optB.loadStateDict({ state: new Map([[0, ints]]), paramGroups: groups }, { take: true })).toThrow(`${key} of parameter 0 is int32`);
    for (const s of [gone, ints]) for (const v of Object.values(s)) if (typeof v !== 'number') v.dispose();
    for (const [k, v] of Object.entries(stateBefore)) expect(optB.state.get(pb)![k]).toBe(v);
    for (const s of [wrongShape, shared, twice]) for (const v of Object.values(s)) if (typeof v !== 'number') expect(v.isDisposed).toBe(false);
    for (const s of [wrongShape, shared]) for (const v of Object.values(s)) if (typeof v !== 'number') v.dispose();
    view.dispose();
    spare.dispose();
    (twice[key] as { dispose(): void }).dispose();

    // An optimizer's own live state, loaded back (copied): read before the old state is freed.
    const own = optB.stateDict();
    optB.loadStateDict(own);
    pb.grad = tensor(grads[2], [n]);
    pa.grad = tensor(grads[2], [n]);
    optA.step();
    optB.step();
    expect(Array.from(await pb.toArray())).toEqual(Array.from(await pa.toArray()));
    for (const o of [optA, optB]) {
      o.zeroGrad();
      o.dispose();
    }
    pa.dispose();
    pb.dispose();
  });

  it('clipGradNorm scales by the global norm', async () => {
    const a = new Parameter(tensor([3, 0], [2]));
    const b = new Parameter(tensor([4], [1]));
    a.grad = tensor([3, 0], [2]);
    b.grad = tensor([4], [1]);
    const norm = clipGradNorm([a, b], 1);
    expect(await norm.item()).toBeCloseTo(5, 5);
    expect(Array.from(await a.grad!.toArray()).map((v) => +v.toFixed(5))).toEqual([0.6, 0]);
    expect((await b.grad!.toArray())[0]).toBeCloseTo(0.8, 5);
    norm.dispose();
    a.dispose();
    b.dispose();
  });

  it('update kernels compile once: no new pipelines after the first step', async () => {
    const p = new Parameter(tensor(randomArray(n, 1), [n]));
    const opt = new Adam([p], { lr: 0.1 });
    p.grad = tensor(grads[0], [n]);
    opt.step();
    opt.zeroGrad();
    const before = memoryStats().pipelines;
    for (let k = 0; k < 3; k++) {
      opt.paramGroups[0].lr *= 0.5;
      p.grad = tensor(grads[k], [n]);
      opt.step();
      opt.zeroGrad();
    }
    await p.toArray();
    expect(memoryStats().pipelines).toBe(before);
    opt.dispose();
    p.dispose();
  });
});

describe('schedulers', () => {
  it('StepLR, cosine, warm-up composed with cosine', () => {
    const p = new Parameter(tensor([1], [1]));
    const s1 = new SGD([p], { lr: 1 });
    const st = new StepLR(s1, { stepSize: 2, gamma: 0.5 });
    const lrs: number[] = [];
    for (let i = 0; i < 5; i++) {
      lrs.push(s1.paramGroups[0].lr);
      st.step();
    }
    expect(lrs).toEqual([1, 1, 0.5, 0.5, 0.25]);
    const s2 = new SGD([p], { lr: 1 });
    const warm = new LinearWarmup(s2, { steps: 2, startFactor: 0.5, after: new CosineAnnealingLR(s2, { tMax: 4 }) });
    const l2: number[] = [];
    for (let i = 0; i < 7; i++) {
      l2.push(+s2.paramGroups[0].lr.toFixed(6));
      warm.step();
    }
    expect(l2).toEqual([0.5, 0.75, 1, +(0.5 + 0.5 * Math.cos(Math.PI / 4)).toFixed(6), 0.5, +(0.5 - 0.5 * Math.cos(Math.PI / 4)).toFixed(6), 0]);
    p.dispose();
  });
});
