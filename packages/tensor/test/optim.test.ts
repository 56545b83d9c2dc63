import { describe, expect, it } from 'vitest';
import { adamStep, copyInto, increment, sgdStep, tensor, zeros } from '../src/index.ts';
import { randomArray, relErr, useDevice } from './helpers.ts';

useDevice();

const steps = 3;

describe('fused optimizer updates vs float64 (three steps, in place)', () => {
  // 13: one element per invocation; 16: the vec4 path of Adam.
  for (const n of [13, 16]) {
    it(`SGD with momentum, dampening, weight decay, Nesterov; n=${n}`, async () => {
      const o = { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: true };
      const p0 = randomArray(n, 1);
      const grads = Array.from({ length: steps }, (_, k) => randomArray(n, 10 + k));
      const p = tensor(p0, [n]);
      const buf = zeros([n]);
      const ref = Float64Array.from(p0);
      const b = new Float64Array(n);
      grads.forEach((g, k) => {
        sgdStep(p, tensor(g, [n]), buf, { ...o, firstStep: k === 0 });
        for (let i = 0; i < n; i++) {
          const d = g[i] + o.weightDecay * ref[i];
          b[i] = k === 0 ? d : o.momentum * b[i] + (1 - o.dampening) * d;
          ref[i] -= o.lr * (d + o.momentum * b[i]);
        }
      });
      expect(relErr(await p.toArray(), ref)).toBeLessThan(1e-6);
      expect(relErr(await buf.toArray(), b)).toBeLessThan(1e-6);
    });

    for (const decoupled of [false, true]) {
      it(`${decoupled ? 'AdamW' : 'Adam'} with weight decay; n=${n}`, async () => {
        const o = { lr: 0.01, betas: [0.8, 0.95] as const, eps: 1e-6, weightDecay: 0.1, decoupledWeightDecay: decoupled };
        const p0 = randomArray(n, 2);
        const p = tensor(p0, [n]);
        const m = zeros([n]);
        const v = zeros([n]);
        const ref = Float64Array.from(p0);
        const rm = new Float64Array(n);
        const rv = new Float64Array(n);
        for (let t = 1; t <= steps; t++) {
          const g = randomArray(n, 20 + t);
          adamStep(p, tensor(g, [n]), m, v, { ...o, step: t });
          for (let i = 0; i < n; i++) {
            let gr = g[i];
            if (decoupled) ref[i] *= 1 - o.lr * o.weightDecay;
            else gr += o.weightDecay * ref[i];
            rm[i] = o.betas[0] * rm[i] + (1 - o.betas[0]) * gr;
            rv[i] = o.betas[1] * rv[i] + (1 - o.betas[1]) * gr * gr;
            const mHat = rm[i] / (1 - o.betas[0] ** t);
            const vHat = rv[i] / (1 - o.betas[1] ** t);
            ref[i] -= (o.lr * mHat) / (Math.sqrt(vHat) + o.eps);
          }
        }
        expect(relErr(await p.toArray(), ref)).toBeLessThan(1e-5);
        expect(relErr(await m.toArray(), rm)).toBeLessThan(1e-5);
        expect(relErr(await v.toArray(), rv)).toBeLessThan(1e-5);
      });
    }
  }

  it('names the mismatched state and a bad step', () => {
    const p = zeros([4]);
    expect(() =>
      adamStep(p, zeros([5]), zeros([4]), zeros([4]), { lr: 1, betas: [0.9, 0.99], eps: 0, weightDecay: 0, decoupledWeightDecay: false, step: 1 }),
    ).toThrow(/adamStep: gradient float32 \[5\] does not match the parameter float32 \[4\]/);
    expect(() =>
      adamStep(p, zeros([4]), zeros([4]), zeros([4]), { lr: 1, betas: [0.9, 0.99], eps: 0, weightDecay: 0, decoupledWeightDecay: true, step: 0 }),
    ).toThrow(/adamwStep: step must be an integer >= 1, got 0/);
    expect(() => sgdStep(p, zeros([4]), zeros([2, 2]), { lr: 1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true })).toThrow(
      /sgdStep: momentumBuffer float32 \[2,2\]/,
    );
    expect(() => sgdStep(p, p, null, { lr: 1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true })).toThrow(
      /sgdStep: gradient shares its buffer/,
    );
  });
});

describe('in-place writes', () => {
  it('copyInto keeps the destination and casts; increment counts int32 and float32', async () => {
    const dst = zeros([2, 3]);
    copyInto(dst, tensor([1.5, -2, 3, 4, 5, 6], [6]));
    expect(Array.from(await dst.toArray())).toEqual([1.5, -2, 3, 4, 5, 6]);
    const ints = zeros([3], 'int32');
    copyInto(ints, tensor([1.9, -2.2, 7], [3]));
    expect(Array.from(await ints.toArray())).toEqual([1, -2, 7]);
    expect(() => copyInto(dst, zeros([5]))).toThrow(/copyInto: sizes differ, \[2,3\] vs \[5\]/);
    const counter = zeros([], 'int32');
    for (let k = 0; k < 3; k++) increment(counter);
    expect(Array.from(await counter.toArray())).toEqual([3]);
    const f = tensor([0.5, 1.5], [2]);
    increment(f);
    expect(Array.from(await f.toArray())).toEqual([1.5, 2.5]);
  });
});
