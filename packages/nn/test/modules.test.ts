import { describe, expect, it } from 'vitest';
import { keep, memoryStats, randint, randn, scope, tensor, Generator, type Tensor } from '@cxr/tensor';
import { useDevice } from '../../tensor/test/helpers.ts';
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  crossEntropy,
  Dropout,
  Flatten,
  Linear,
  MaxPool2d,
  Parameter,
  Module,
  noGrad,
  ReLU,
  Sequential,
  SGD,
  Adam,
  F,
  binaryCrossEntropyWithLogits,
  focalLoss,
  nameMatcher,
  clipGradNorm,
} from '../src/index.ts';
import { gradcheck, input } from './gradcheck.ts';

useDevice();

class Block extends Module {
  conv1 = new Conv2d(3, 4, 3, { padding: 1, bias: false, generator: new Generator(1) });
  bn1 = new BatchNorm2d(4);
  relu = new ReLU();
  override forward(x: Tensor): Tensor {
    return this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
  }
}

class Net extends Module {
  layer1 = new Sequential(new Block());
  fc = new Linear(4, 2, { generator: new Generator(2) });
  override forward(x: Tensor): Tensor {
    const h = this.layer1.forward(x);
    return this.fc.forward(F.flatten(F.adaptiveAvgPool2d(h, 1), 1));
  }
}

describe('Module', () => {
  it('PyTorch dotted names for parameters and buffers', () => {
    const net = new Net();
    expect([...net.stateDict().keys()]).toEqual([
      'layer1.0.conv1.weight',
      'layer1.0.bn1.weight',
      'layer1.0.bn1.bias',
      'layer1.0.bn1.running_mean',
      'layer1.0.bn1.running_var',
      'layer1.0.bn1.num_batches_tracked',
      'fc.weight',
      'fc.bias',
    ]);
    expect(net.namedParameters().map(([n]) => n)).toEqual(['layer1.0.conv1.weight', 'layer1.0.bn1.weight', 'layer1.0.bn1.bias', 'fc.weight', 'fc.bias']);
    expect(net.namedBuffers().map(([n]) => n)).toEqual(['layer1.0.bn1.running_mean', 'layer1.0.bn1.running_var', 'layer1.0.bn1.num_batches_tracked']);
    net.dispose();
  });

  it('loadStateDict copies values and lists missing, unexpected and mis-shaped keys', async () => {
    const a = new Net();
    const b = new Net();
    const sd = new Map(a.stateDict());
    sd.set('fc.weight', tensor([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]));
    b.loadStateDict(sd);
    expect(Array.from(await b.fc.weight.toArray())).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const bad = new Map(sd);
    bad.delete('fc.bias');
    bad.set('extra.weight', tensor([1], [1]));
    bad.set('layer1.0.conv1.weight', tensor([1, 2], [2]));
    let msg = '';
    try {
      b.loadStateDict(bad);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/missing keys \(1\): fc.bias/);
    expect(msg).toMatch(/unexpected keys \(1\): extra.weight/);
    expect(msg).toMatch(/layer1.0.conv1.weight: checkpoint \[2\] vs model \[4,3,3,3\]/);
    bad.delete('layer1.0.conv1.weight');
    expect(b.loadStateDict(bad, { strict: false })).toEqual({ missingKeys: ['layer1.0.conv1.weight', 'fc.bias'], unexpectedKeys: ['extra.weight'] });
    a.dispose();
    b.dispose();
  });

  it('freeze by glob and by prefix; a pattern matching nothing is an error', () => {
    const net = new Net();
    expect(net.freeze('layer1.**')).toEqual(['layer1.0.conv1.weight', 'layer1.0.bn1.weight', 'layer1.0.bn1.bias']);
    expect(net.trainableParameters().length).toBe(2);
    net.unfreeze();
    expect(net.trainableParameters().length).toBe(5);
    expect(net.freeze('layer1.*.*.weight')).toEqual(['layer1.0.conv1.weight', 'layer1.0.bn1.weight']);
    net.unfreeze();
    expect(net.freeze(['fc'])).toEqual(['fc.weight', 'fc.bias']);
    expect(() => net.freeze('features')).toThrow(/matches no parameter/);
    // `*` stays within one segment: this glob names a depth no parameter has.
    expect(() => net.freeze('layer1.*.weight')).toThrow(/'layer1\.\*\.weight' matches no parameter/);
    net.dispose();
  });

  it('name globs: * within a segment, ** across, a bare prefix its subtree and never a longer name', () => {
    const names = ['layer1.0.conv1.weight', 'layer1.0.bn1.bias', 'layer10.0.conv1.weight', 'layer1', 'fc.weight'];
    const sel = (p: string | string[]) => names.filter(nameMatcher(p));
    expect(sel('layer1')).toEqual(['layer1.0.conv1.weight', 'layer1.0.bn1.bias', 'layer1']);
    expect(sel('layer1*')).toEqual(['layer1']);
    expect(sel('layer1*.**')).toEqual(['layer1.0.conv1.weight', 'layer1.0.bn1.bias', 'layer10.0.conv1.weight']);
    expect(sel('layer1.*.weight')).toEqual([]);
    expect(sel('layer1.*.conv?.weight')).toEqual(['layer1.0.conv1.weight']);
    expect(sel('**.weight')).toEqual(['layer1.0.conv1.weight', 'layer10.0.conv1.weight', 'fc.weight']);
    expect(sel(['fc', 'layer1.0.bn1.bias'])).toEqual(['layer1.0.bn1.bias', 'fc.weight']);
    expect(sel('fc.w(eight)')).toEqual([]); // regex characters are literal
  });

  it('a parameter shared by two submodules (tied weights) is listed once, as torch; stateDict keeps both names', async () => {
    class Tied extends Module {
      a = new Linear(3, 3, { generator: new Generator(5) });
      b = new Linear(3, 3, { generator: new Generator(6) });
      constructor() {
        super();
        this.b.weight = this.a.weight;
      }
    }
    const m = new Tied();
    expect(m.namedParameters().map(([n]) => n)).toEqual(['a.weight', 'a.bias', 'b.bias']);
    expect([...m.stateDict().keys()]).toEqual(['a.weight', 'a.bias', 'b.weight', 'b.bias']);
    // An optimizer takes the list (it refused a parameter appearing twice) ...
    expect(() => new SGD(m.parameters(), { lr: 0.1 })).not.toThrow();
    // ... and clipping counts and scales the shared gradient once (it was twice: norm √2 too large, coef applied twice).
    m.a.weight.grad = keep(tensor([3, 0, 0, 0, 0, 0, 0, 0, 0], [3, 3]));
    m.a.bias!.grad = keep(tensor([4, 0, 0]));
    const norm = clipGradNorm(m.parameters(), 1);
    expect(await norm.item()).toBeCloseTo(5, 5);
    expect((await m.a.weight.grad.toArray())[0]).toBeCloseTo(3 / (5 + 1e-6), 5);
    norm.dispose();
    m.dispose();
  });

  it('train()/eval() propagate', () => {
    const net = new Net();
    net.eval();
    expect(net.layer1.at<Block>(0).bn1.training).toBe(false);
    net.train();
    expect(net.layer1.at<Block>(0).bn1.training).toBe(true);
    net.dispose();
  });
});

describe('CNN op gradients (finite differences)', () => {
  const cases: [string, (...x: Tensor[]) => Tensor, ReturnType<typeof input>[]][] = [
    ['conv2d stride/pad/bias', (x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 1 }), [input([2, 3, 5, 5], 1), input([4, 3, 3, 3], 2), input([4], 3)]],
    ['conv2d groups dilation', (x, w) => F.conv2d(x, w, null, { groups: 2, dilation: 2 }), [input([1, 4, 7, 7], 4), input([2, 2, 3, 3], 5)]],
    ['conv2d + relu (fused)', (x, w, b) => F.conv2dRelu(x, w, b, { padding: 1 }), [input([2, 3, 5, 4], 19), input([4, 3, 3, 3], 20), input([4], 21)]],
    ['maxPool2d', (x) => F.maxPool2d(x, { kernelSize: 2 }), [input([1, 2, 5, 5], 6)]],
    ['avgPool2d', (x) => F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }), [input([1, 2, 5, 5], 7)]],
    ['adaptiveAvgPool2d', (x) => F.adaptiveAvgPool2d(x, [2, 3]), [input([1, 2, 5, 7], 8)]],
    [
      'batchNorm training',
      (x, w, b) => F.batchNorm(x, w, b, { runningMean: runningMean(), runningVar: runningVar(), training: true }),
      [input([3, 2, 3, 3], 9), input([2], 10, 0.5, 1.5), input([2], 11)],
    ],
    // relu(bn(x) + residual) in one fused op: the gradient rule masks dy inside the batch-norm
    // backward and hands the masked dy to the residual.
    [
      'batchNorm + residual + relu (fused)',
      (x, w, b, r) => F.batchNorm(x, w, b, { runningMean: runningMean(), runningVar: runningVar(), training: true, relu: true }, r),
      [input([3, 2, 2, 4], 15), input([2], 16, 0.5, 1.5), input([2], 17), input([3, 2, 2, 4], 18)],
    ],
    [
      'crossEntropy weight + smoothing',
      (x) => crossEntropy(x, tensor([0, 2, 1], [3], 'int32'), { weight: tensor([0.5, 1, 2], [3]), labelSmoothing: 0.1 }),
      [input([3, 3], 12, -2, 2)],
    ],
    [
      'bceWithLogits posWeight',
      (x) => binaryCrossEntropyWithLogits(x, tensor([1, 0, 1, 0, 1, 1], [3, 2]), { posWeight: tensor([2, 0.5], [2]) }),
      [input([3, 2], 13, -3, 3)],
    ],
    ['focalLoss', (x) => focalLoss(x, tensor([1, 0, 1, 0, 1], [5])), [input([5], 14, -3, 3)]],
  ];
  // constant running stats (recreated per evaluation; the FD evaluations update them, which does not affect training-mode outputs)
  const runningMean = () => tensor([0, 0], [2]);
  const runningVar = () => tensor([1, 1], [2]);
  for (const [name, f, inputs] of cases)
    it(name, async () => {
      await gradcheck(f, inputs);
    });
});

describe('conv2d + relu fused', () => {
  it('equals conv2d then relu exactly, forward and every gradient, keeping one activation instead of two', async () => {
    const g = new Generator(3);
    const x = randn([2, 5, 9, 7], { generator: g });
    const run = async (fused: boolean) => {
      const conv = new Conv2d(5, 6, 3, { padding: 1, generator: new Generator(4) });
      const xp = new Parameter(x.view(x.shape));
      const before = memoryStats().liveTensors;
      const y = fused ? conv.forwardFused(xp, { relu: true }) : F.relu(conv.forward(xp));
      const kept = memoryStats().liveTensors - before;
      const loss = F.sum(F.mul(y, y));
      const values = await y.toArray();
      loss.backward();
      const out = { kept, values, dx: await xp.grad!.toArray(), dw: await conv.weight.grad!.toArray(), db: await conv.bias!.grad!.toArray() };
      loss.dispose();
      xp.dispose();
      for (const p of conv.parameters()) p.dispose();
      return out;
    };
    const fused = await run(true);
    const plain = await run(false);
    expect(fused.values.some((v) => v === 0) && fused.values.some((v) => v > 0)).toBe(true);
    for (const k of ['values', 'dx', 'dw', 'db'] as const) expect(Array.from(fused[k])).toEqual(Array.from(plain[k]));
    expect(fused.kept).toBe(1);
    expect(plain.kept).toBe(2);
    x.dispose();
  });
});

describe('losses', () => {
  it('stable for logits of ±100', async () => {
    const logits = tensor([100, -100, -100, 100, 0, 0], [3, 2]);
    const ce = crossEntropy(logits, tensor([0, 0, 1], [3], 'int32'));
    const bce = binaryCrossEntropyWithLogits(logits, tensor([1, 0, 1, 0, 1, 0], [3, 2]));
    const fl = focalLoss(logits, tensor([1, 0, 0, 1, 1, 0], [3, 2]));
    const [a, b, c] = [await ce.item(), await bce.item(), await fl.item()];
    expect(a).toBeCloseTo((200 + Math.log(2)) / 3, 4);
    expect(b).toBeCloseTo((100 + 100 + 2 * Math.log(2)) / 6, 4);
    expect(Number.isFinite(c)).toBe(true);
    for (const t of [logits, ce, bce, fl]) t.dispose();
  });
});

describe('training', () => {
  it('a small CNN trains 50 steps with flat memory', async () => {
    const gen = new Generator(3);
    const model = new Sequential(
      new Conv2d(3, 4, 3, { padding: 1, generator: gen }),
      new BatchNorm2d(4),
      new ReLU(),
      new MaxPool2d(2),
      new Conv2d(4, 6, 3, { padding: 1, generator: gen }),
      new BatchNorm2d(6),
      new ReLU(),
      new AdaptiveAvgPool2d(1),
      new Flatten(),
      new Dropout(0.2, gen),
      new Linear(6, 3, { generator: gen }),
    );
    const x = randn([4, 3, 8, 8], { generator: gen });
    const y = randint(0, 3, [4], { generator: gen });
    const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
    const losses: number[] = [];
    const stats: { liveBytes: number; liveTensors: number }[] = [];
    for (let step = 0; step < 50; step++) {
      const loss = crossEntropy(model.forward(x), y);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      if (step % 10 === 0 || step === 49) losses.push(await loss.item());
      loss.dispose();
      const m = memoryStats();
      stats.push({ liveBytes: m.liveBytes, liveTensors: m.liveTensors });
    }
    // after the first step (optimizer state created) nothing grows
    for (const s of stats.slice(1)) expect(s).toEqual(stats[1]);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    // evaluation under noGrad keeps nothing
    model.eval();
    const before = memoryStats().liveTensors;
    const out = noGrad(() => scope(() => model.forward(x)));
    out.dispose();
    expect(memoryStats().liveTensors).toBe(before);
    // frozen first block + Adam: the frozen part's results are owned by the tape too
    model.train();
    model.freeze(['0', '1']);
    const adam = new Adam(model.parameters(), { lr: 1e-3 });
    const frozenStats: number[][] = [];
    for (let step = 0; step < 10; step++) {
      const loss = crossEntropy(model.forward(x), y);
      loss.backward();
      adam.step();
      adam.zeroGrad();
      loss.dispose();
      const m = memoryStats();
      frozenStats.push([m.liveBytes, m.liveTensors]);
    }
    for (const s of frozenStats.slice(1)) expect(s).toEqual(frozenStats[1]);
    expect(model.at<Conv2d>(0).weight.grad).toBeNull();
    adam.dispose();
    console.log(`losses ${losses.map((l) => l.toFixed(4)).join(' ')}; live ${JSON.stringify(stats[49])}`);
    opt.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  });
});
