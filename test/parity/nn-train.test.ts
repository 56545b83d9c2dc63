// PyTorch parity for @cxr/nn training: the same small CNN (conv-bn-relu-pool x2, linear head), the
// (convs without bias, as before BN in torchvision: a conv bias before BN has a zero gradient up to
// rounding noise, which Adam would amplify to ±lr), the
// same initial weights and batches, 5 steps of SGD (momentum + weight decay), 5 of Adam, and 5 of
// SGD with the first conv/bn frozen. Parameters within 1e-4 relative, losses within 1e-5, frozen
// weights bit-identical, BN running stats as PyTorch. Skips loudly without torch unless CI.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyDevice, getDevice, Generator, tensor, type Tensor } from '@cxr/tensor';
import { Adam, BatchNorm2d, Conv2d, crossEntropy, Flatten, Linear, MaxPool2d, ReLU, SGD, Sequential, type Optimizer, type GroupOptions } from '@cxr/nn';
import { readNpy, writeNpy } from './npy.ts';
import { parityTempDir, requireOrSkip, runPython } from './python.ts';

const have = await requireOrSkip('nn-train parity');

const steps = 5;
const batch = 6;

function build(gen?: Generator): Sequential {
  return new Sequential(
    new Conv2d(3, 4, 3, { padding: 1, bias: false, generator: gen }),
    new BatchNorm2d(4),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(4, 6, 3, { padding: 1, bias: false, generator: gen }),
    new BatchNorm2d(6),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(6 * 2 * 2, 3, { generator: gen }),
  );
}

function host(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  });
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(den === 0 ? num : num / den);
}

interface Scenario {
  name: string;
  opt: 'sgd' | 'adam';
  lr: number;
  momentum?: number;
  weightDecay: number;
  frozen?: string[];
}
const scenarios: Scenario[] = [
  { name: 'sgd', opt: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 1e-3 },
  { name: 'adam', opt: 'adam', lr: 0.01, weightDecay: 0 },
  { name: 'frozen', opt: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 1e-3, frozen: ['0', '1'] },
];

describe.runIf(have)('nn training vs PyTorch', () => {
  const dir = parityTempDir('nn-train');
  const init = new Map<string, { data: Float32Array; shape: number[] }>();
  const xs: Float32Array[] = [];
  const ys: Int32Array[] = [];

  beforeAll(async () => {
    await getDevice();
    const m = build(new Generator(42));
    mkdirSync(join(dir, 'init'));
    for (const [k, t] of m.stateDict()) {
      const data = await t.toArray();
      init.set(k, { data, shape: [...t.shape] });
      writeNpy(join(dir, 'init', `${k}.npy`), { dtype: 'float32', shape: [...t.shape], data });
    }
    m.dispose();
    for (let k = 0; k < steps; k++) {
      xs.push(host(batch * 3 * 8 * 8, 100 + k));
      ys.push(Int32Array.from({ length: batch }, (_, i) => (i * 7 + k * 3) % 3));
      writeNpy(join(dir, `x${k}.npy`), { dtype: 'float32', shape: [batch, 3, 8, 8], data: xs[k] });
      writeNpy(join(dir, `y${k}.npy`), { dtype: 'int32', shape: [batch], data: ys[k] });
    }
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'scenarios.json'), JSON.stringify({ steps, scenarios }));
    await runPython('nn_train.py', [dir]);
  });
  afterAll(async () => {
    await destroyDevice();
  });

  for (const sc of scenarios) {
    it(`${sc.name}: ${steps} steps match PyTorch`, async () => {
      const model = build();
      const dict = new Map<string, Tensor>();
      for (const [k, v] of init) dict.set(k, tensor(v.data, v.shape));
      model.loadStateDict(dict);
      for (const t of dict.values()) t.dispose();
      if (sc.frozen) model.freeze(sc.frozen);
      const opt: Optimizer<GroupOptions> =
        sc.opt === 'sgd'
          ? new SGD(model.parameters(), { lr: sc.lr, momentum: sc.momentum, weightDecay: sc.weightDecay })
          : new Adam(model.parameters(), { lr: sc.lr, weightDecay: sc.weightDecay });
      const losses: number[] = [];
      for (let k = 0; k < steps; k++) {
        const x = tensor(xs[k], [batch, 3, 8, 8]);
        const y = tensor(ys[k], [batch], 'int32');
        const loss = crossEntropy(model.forward(x), y);
        loss.backward();
        opt.step();
        opt.zeroGrad();
        losses.push(await loss.item());
        for (const t of [loss, x, y]) t.dispose();
      }
      const ref = readNpy(join(dir, sc.name, 'losses.npy')).data as Float64Array;
      for (let k = 0; k < steps; k++) {
        expect(Math.abs(losses[k] - ref[k]) / Math.abs(ref[k]), `loss ${k}: ${losses[k]} vs ${ref[k]}`).toBeLessThan(1e-5);
      }
      const worst: string[] = [];
      for (const [k, t] of model.stateDict()) {
        const r = readNpy(join(dir, sc.name, `${k}.npy`));
        const ours = await t.toArray();
        const theirs = Array.from(r.data as ArrayLike<number>, Number);
        const err = relErr(ours, theirs);
        worst.push(`${k} ${err.toExponential(2)}`);
        expect(err, `${sc.name} ${k}`).toBeLessThan(1e-4);
        if (sc.frozen?.some((f) => k.startsWith(`${f}.`)) && !k.includes('running') && !k.includes('num_batches')) {
          // frozen weights: bit-identical to the initial values (and to PyTorch's)
          expect(Array.from(ours), `${k} frozen`).toEqual(Array.from(init.get(k)!.data));
          expect(Array.from(ours), `${k} frozen vs torch`).toEqual(theirs);
        }
      }
      console.log(`${sc.name}: losses ${losses.map((l) => l.toFixed(6)).join(' ')}; rel errors ${worst.join(', ')}`);
      opt.dispose();
      model.dispose();
    });
  }
});
