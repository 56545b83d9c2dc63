import { describe, expect, it } from 'vitest';
import { adamStep, type Tensor, sgdStep, tensor, zeros } from '../src/index.ts';
import { randomArray, relErr, useDevice } from './helpers.ts';

useDevice();

// The loss scaler's options of the fused updates: gradScale (g · 1/scale) and skipIf (a flag that
// makes the kernel write nothing). 13: one element per invocation; 16: Adam's vec4 form.
const sizes = [13, 16];
const sgdCases = [
  { name: 'SGD', momentum: 0, dampening: 0, weightDecay: 0.01, nesterov: false },
  { name: 'SGD momentum + dampening', momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: false },
  { name: 'SGD Nesterov', momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: true },
];
const adamCases = [false, true].map((decoupled) => ({
  name: decoupled ? 'AdamW' : 'Adam',
  lr: 0.01,
  betas: [0.8, 0.95] as const,
  eps: 1e-6,
  weightDecay: 0.1,
  decoupledWeightDecay: decoupled,
}));

type Opts = { gradScale?: number; skipIf?: Tensor };

/** Runs `steps` updates of one optimizer from fixed data; state[0] is the parameter. */
function runner(kind: { sgd: (typeof sgdCases)[number] } | { adam: (typeof adamCases)[number] }, n: number) {
  const state = [tensor(randomArray(n, 1), [n]), zeros([n]), zeros([n])];
  let t = 0;
  return {
    state,
    step(g: Float32Array, o: Opts) {
      t++;
      if ('sgd' in kind) {
        const buf = kind.sgd.momentum ? state[1] : null;
        sgdStep(state[0], tensor(g, [n]), buf, { lr: 0.1, ...kind.sgd, firstStep: t === 1, ...o });
      } else adamStep(state[0], tensor(g, [n]), state[1], state[2], { ...kind.adam, step: t, ...o });
    },
    read: () => Promise.all(state.map((s) => s.toArray())),
  };
}

const grads = (n: number) => [randomArray(n, 11), randomArray(n, 12), randomArray(n, 13)];
const scaled = (g: Float32Array, s: number) => Float32Array.from(g, (v) => v * s);

/** float64 reference of the same updates on the unscaled gradients. */
function reference(kind: Parameters<typeof runner>[0], n: number): Float64Array[] {
  const p = Float64Array.from(randomArray(n, 1));
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  grads(n).forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < n; i++) {
      if ('sgd' in kind) {
        const o = kind.sgd;
        let d = g[i] + o.weightDecay * p[i];
        if (o.momentum) {
          a[i] = t === 1 ? d : o.momentum * a[i] + (1 - o.dampening) * d;
          d = o.nesterov ? d + o.momentum * a[i] : a[i];
        }
        p[i] -= 0.1 * d;
      } else {
        const o = kind.adam;
        let gr = g[i];
        if (o.decoupledWeightDecay) p[i] *= 1 - o.lr * o.weightDecay;
        else gr += o.weightDecay * p[i];
        a[i] = o.betas[0] * a[i] + (1 - o.betas[0]) * gr;
        b[i] = o.betas[1] * b[i] + (1 - o.betas[1]) * gr * gr;
        p[i] -= (o.lr * (a[i] / (1 - o.betas[0] ** t))) / (Math.sqrt(b[i] / (1 - o.betas[1] ** t)) + o.eps);
      }
    }
  });
  return [p, a, b];
}

const kinds = [...sgdCases.map((sgd) => ({ name: sgd.name, kind: { sgd } })), ...adamCases.map((adam) => ({ name: adam.name, kind: { adam } }))];

describe('fused optimizer updates with the loss scaler options', () => {
  for (const n of sizes) {
    for (const { name, kind } of kinds) {
      it(`${name}, n=${n}: gradScale = 1/2^k gives exactly the update on pre-divided gradients; a non-power-of-two scale follows float64`, async () => {
        const plain = runner(kind, n);
        const fused = runner(kind, n);
        const odd = runner(kind, n);
        const flag = zeros([1]);
        for (const g of grads(n)) {
          plain.step(g, {});
          fused.step(scaled(g, 1024), { gradScale: 1 / 1024, skipIf: flag });
          odd.step(scaled(g, 3000), { gradScale: 1 / 3000 });
        }
        const [want, got, approx] = await Promise.all([plain.read(), fused.read(), odd.read()]);
        for (let k = 0; k < 3; k++) expect(Array.from(got[k]), `state ${k}`).toEqual(Array.from(want[k]));
        const ref = reference(kind, n);
        const used = 'sgd' in kind ? (kind.sgd.momentum ? 2 : 1) : 3;
        for (let k = 0; k < used; k++) expect(relErr(approx[k], ref[k]), `state ${k}`).toBeLessThan(1e-5);
      });

      it(`${name}, n=${n}: skipIf = 1 leaves the parameter and state bit-identical, even with an Inf gradient`, async () => {
        const r = runner(kind, n);
        const [g0, g1] = grads(n);
        r.step(g0, {});
        const before = await r.read();
        const bad = g1.slice();
        bad[n - 1] = Number.POSITIVE_INFINITY;
        r.step(bad, { gradScale: 0.5, skipIf: tensor([1], [1]) });
        r.step(g1, { skipIf: tensor([1], [1]) });
        const after = await r.read();
        for (let k = 0; k < 3; k++) expect(Array.from(after[k]), `state ${k}`).toEqual(Array.from(before[k]));
      });
    }
  }

  it('refuses a flag of the wrong shape or one that is written, and a gradScale float32 cannot hold', () => {
    const p = zeros([4]);
    const adam = { lr: 1, betas: [0.9, 0.99] as const, eps: 0, weightDecay: 0, decoupledWeightDecay: false, step: 1 };
    expect(() => adamStep(p, zeros([4]), zeros([4]), zeros([4]), { ...adam, skipIf: zeros([2]) })).toThrow(/adamStep: skipIf must be float32 \[1\]/);
    const one = zeros([1]);
    expect(() => adamStep(one, zeros([1]), zeros([1]), zeros([1]), { ...adam, skipIf: one })).toThrow(/adamStep: skipIf shares its buffer with the parameter/);
    expect(() =>
      sgdStep(p, zeros([4]), null, { lr: 1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true, gradScale: 1e300 }),
    ).toThrow(/sgdStep: gradScale must be a finite float32 number/);
  });
});
