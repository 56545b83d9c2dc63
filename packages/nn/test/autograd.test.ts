import { describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { Generator, memoryStats, tensor, type Tensor } from '@cxr/tensor';
import { useDevice } from '../../tensor/test/helpers.ts';
import * as F from '../src/functional.ts';
import { Linear, Parameter, ReLU, Sequential, defineOp, noGrad, retainGrad, retainedGrad, tapeLength } from '../src/index.ts';
import { gradcheck, input } from './gradcheck.ts';

useDevice();

describe('gradient checks (finite differences)', () => {
  const cases: [string, (...x: Tensor[]) => Tensor, ReturnType<typeof input>[]][] = [
    ['add broadcast', (a, b) => F.add(a, b), [input([3, 5], 1), input([5], 2)]],
    ['add scalar', (a) => F.add(2.5, a), [input([7], 3)]],
    ['sub broadcast', (a, b) => F.sub(a, b), [input([3, 1], 4), input([2, 3, 5], 5)]],
    ['mul', (a, b) => F.mul(a, b), [input([3, 5], 6), input([3, 5], 7)]],
    ['div', (a, b) => F.div(a, b), [input([13], 8), input([13], 9, 0.5, 2)]],
    ['neg', (a) => F.neg(a), [input([5], 10)]],
    ['exp', (a) => F.exp(a), [input([5], 11)]],
    ['log', (a) => F.log(a), [input([5], 12, 0.5, 2)]],
    ['sqrt', (a) => F.sqrt(a), [input([5], 13, 0.5, 2)]],
    ['rsqrt', (a) => F.rsqrt(a), [input([5], 14, 0.5, 2)]],
    ['relu', (a) => F.relu(a), [input([13], 15)]],
    ['sigmoid', (a) => F.sigmoid(a), [input([7], 16, -3, 3)]],
    ['tanh', (a) => F.tanh(a), [input([7], 17, -2, 2)]],
    ['square', (a) => F.square(a), [input([7], 18)]],
    ['abs', (a) => F.abs(a), [input([7], 19)]],
    ['softplus', (a) => F.softplus(a), [input([7], 20, -4, 4)]],
    ['powScalar', (a) => F.powScalar(a, 2.5), [input([7], 21, 0.5, 2)]],
    ['clamp', (a) => F.clamp(a, -0.5, 0.5), [input([13], 22)]],
    ['where', (a, b) => F.where(tensor([1, 0, 1, 1, 0], [5]), a, b), [input([5], 23), input([5], 24)]],
    ['matmul', (a, b) => F.matmul(a, b), [input([3, 5], 25), input([5, 7], 26)]],
    ['matmul transA', (a, b) => F.matmul(a, b, { transA: true }), [input([5, 3], 27), input([5, 7], 28)]],
    ['matmul transB', (a, b) => F.matmul(a, b, { transB: true }), [input([3, 5], 29), input([7, 5], 30)]],
    ['matmul transA transB', (a, b) => F.matmul(a, b, { transA: true, transB: true }), [input([5, 3], 31), input([7, 5], 32)]],
    ['matmul batched broadcast', (a, b) => F.matmul(a, b), [input([2, 3, 5], 33), input([5, 4], 34)]],
    ['linear', (x, w, b) => F.linear(x, w, b), [input([3, 5], 35), input([4, 5], 36), input([4], 37)]],
    ['linear 3-d input', (x, w) => F.linear(x, w), [input([2, 3, 5], 38), input([4, 5], 39)]],
    ['sum axes', (a) => F.sum(a, [0, 2]), [input([2, 3, 5], 40)]],
    ['sum keepdim', (a) => F.sum(a, 1, true), [input([3, 5], 41)]],
    ['sum all', (a) => F.sum(a), [input([3, 5], 42)]],
    ['mean', (a) => F.mean(a, -1), [input([3, 5], 43)]],
    ['softmax', (a) => F.softmax(a, 1), [input([3, 5], 44, -2, 2)]],
    ['logSoftmax', (a) => F.logSoftmax(a, 0), [input([3, 5], 45, -2, 2)]],
    ['reshape', (a) => F.reshape(a, [5, 3]), [input([3, 5], 46)]],
    ['flatten', (a) => F.flatten(a, 1), [input([2, 3, 5], 47)]],
    ['permute', (a) => F.permute(a, [2, 0, 1]), [input([2, 3, 5], 48)]],
    ['transpose', (a) => F.transpose(a), [input([3, 5], 49)]],
    ['expand', (a) => F.expand(a, [2, 3, 5]), [input([3, 1], 50)]],
    ['slice', (a) => F.slice(a, [{ start: 1 }, { start: 1, end: 4 }]), [input([3, 5], 51)]],
    ['concat', (a, b) => F.concat([a, b], 1), [input([3, 2], 52), input([3, 5], 53)]],
    ['pad', (a) => F.pad(a, [1, 2, 0, 1]), [input([3, 5], 54)]],
    ['max axis', (a) => F.max(a, 1), [input([3, 5], 55)]],
    ['min all', (a) => F.min(a), [input([3, 5], 56)]],
    ['indexSelect repeats', (a) => F.indexSelect(a, 0, tensor([2, 0, 2, 1], [4], 'int32')), [input([3, 5], 57)]],
    ['dropout (same mask each call)', (a) => F.dropout(a, 0.3, new Generator(5)), [input([7, 5], 58)]],
  ];
  for (const [name, f, inputs] of cases) {
    it(name, async () => {
      await gradcheck(f, inputs);
    });
  }
});

describe('autograd mechanics', () => {
  it('accumulates into leaves over reused values and across backward calls', async () => {
    const p = new Parameter(tensor([1, 2, 3], [3]));
    const y = F.sum(F.add(F.mul(p, p), p)); // d/dp = 2p + 1
    y.backward();
    expect(Array.from(await p.grad!.toArray())).toEqual([3, 5, 7]);
    y.dispose();
    const z = F.sum(F.mul(p, 2));
    z.backward();
    expect(Array.from(await p.grad!.toArray())).toEqual([5, 7, 9]);
    z.dispose();
    p.dispose();
  });

  it('frees the graph: backward twice is a clear error, no tape left', () => {
    const p = new Parameter(tensor([1, 2, 3], [3]));
    const y = F.sum(F.exp(p));
    y.backward();
    expect(tapeLength()).toBe(0);
    expect(() => y.backward()).toThrow(/already freed/);
    y.dispose();
    p.dispose();
  });

  it('noGrad records nothing; frozen parameters get no grad', () => {
    const p = new Parameter(tensor([1, 2, 3], [3]));
    const q = new Parameter(tensor([1, 1, 1], [3]), false);
    const y = noGrad(() => F.sum(F.mul(p, p)));
    expect(tapeLength()).toBe(0);
    expect(() => y.backward()).toThrow(/does not require grad/);
    y.dispose();
    const z = F.sum(F.mul(p, q));
    z.backward();
    expect(q.grad).toBeNull();
    expect(p.grad).not.toBeNull();
    z.dispose();
    p.dispose();
    q.dispose();
  });

  it('disposes intermediates and saved tensors after backward', () => {
    const p = new Parameter(tensor([0.5, -1, 2, 3, -4, 5], [2, 3]));
    const before = memoryStats().liveTensors;
    const y = F.sum(F.softmax(F.relu(F.mul(F.exp(p), 3))));
    y.backward();
    y.dispose();
    // only the new grad survives
    expect(memoryStats().liveTensors).toBe(before + 1);
    p.dispose();
  });

  it("frees each op's output and saved tensors as soon as its gradient rule has run, not at the end", async () => {
    // Three doublings; each rule notes which outputs are still alive when it runs.
    const outs: Tensor[] = [];
    const saved: Tensor[] = [];
    const aliveWhenRun: boolean[][] = [];
    const double = defineOp('double', {
      forward: (x: Tensor) => {
        const s = T.mul(x, 1);
        saved.push(s);
        return { out: T.mul(x, 2), saved: s };
      },
      backward: (c, dy) => {
        aliveWhenRun.push([...outs, ...saved].map((o) => !o.isDisposed));
        expect((c.saved as Tensor).isDisposed).toBe(false);
        return [T.mul(dy, 2)];
      },
    });
    const p = new Parameter(tensor([1, -2, 3], [3]));
    for (let i = 0; i < 3; i++) outs.push(double(outs[i - 1] ?? p));
    const loss = F.sum(outs[2]!);
    const before = memoryStats().liveTensors;
    loss.backward();
    // Rules run last op first; when the first op's rule runs, the later outputs are gone.
    // Outputs, then saved tensors, of the three ops.
    expect(aliveWhenRun).toEqual([
      [true, true, true, true, true, true],
      [true, true, false, true, true, false],
      [true, false, false, true, false, false],
    ]);
    expect(Array.from(await p.grad!.toArray())).toEqual([8, 8, 8]);
    // Outputs and saved tensors all freed (3 + 3), the gradient kept.
    expect(memoryStats().liveTensors).toBe(before - 6 + 1);
    loss.dispose();
    p.dispose();
  });

  it('a rule may return its own output, saved tensor or input as a gradient', async () => {
    // d sum(f(x)) / dx for f with f' = f (exp), f' = a saved constant, f' = the input (x^2 / 2).
    const ownOut = defineOp('expOwnOut', { forward: (x: Tensor) => T.exp(x), backward: (c) => [c.out] });
    const ownSaved = defineOp('timesThree', { forward: (x: Tensor) => ({ out: T.mul(x, 3), saved: T.full(x.shape, 3) }), backward: (c) => [c.saved] });
    const ownInput = defineOp('halfSquare', { forward: (x: Tensor) => T.mul(T.mul(x, x), 0.5), backward: (c) => [c.args[0]] });
    const p = new Parameter(tensor([0, 1, -1], [3]));
    const before = memoryStats().liveTensors;
    // Through an intermediate too (not only straight into the parameter's grad).
    const loss = F.sum(F.add(F.add(ownOut(p), ownSaved(F.mul(p, 1))), ownInput(F.mul(p, 1))));
    loss.backward();
    const g = Array.from(await p.grad!.toArray());
    const expected = [0, 1, -1].map((v) => Math.exp(v) + 3 + v);
    g.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    loss.dispose();
    expect(memoryStats().liveTensors).toBe(before + 1);
    p.dispose();
  });

  it('a rule that throws frees the graph: nothing left on the tape, a second backward says why', () => {
    const broken = defineOp('broken', {
      forward: (x: Tensor) => T.mul(x, 2),
      backward: () => {
        throw new Error('no gradient here');
      },
    });
    const p = new Parameter(tensor([1, 2], [2]));
    const before = memoryStats().liveTensors;
    const loss = F.sum(F.exp(broken(F.exp(p))));
    expect(() => loss.backward()).toThrow('backward of broken [2]: no gradient here');
    expect(tapeLength()).toBe(0);
    expect(() => loss.backward()).toThrow('already freed');
    loss.dispose();
    expect(memoryStats().liveTensors).toBe(before);
    expect(p.grad).toBeNull();
    p.dispose();
  });
});

describe('retainGrad and forward hooks', () => {
  it('keeps an intermediate gradient (d sum(y^2) / dy = 2y), also when nothing before it needs one', async () => {
    const xs = [0.5, -1.5, 2, 3];
    for (const frozen of [false, true]) {
      const w = new Parameter(tensor(xs, [4]), !frozen);
      const y = F.mul(w, 3);
      retainGrad(y);
      const z = F.sum(F.square(y));
      z.backward();
      const g = retainedGrad(y);
      expect(g).not.toBeNull();
      expect([...(await g!.toArray())]).toEqual(xs.map((v) => 2 * 3 * v));
      expect(w.grad === null).toBe(frozen);
      expect(retainedGrad(y)).toBeNull();
      g!.dispose();
      z.dispose();
      w.dispose();
    }
    expect(tapeLength()).toBe(0);
    expect(() => retainGrad(noGrad(() => F.mul(tensor([1], [1]), 2)))).toThrow(/retainGrad: .*not a recorded op result/);
  });

  it('registerForwardHook sees each forward output until removed; getSubmodule finds dotted names', () => {
    const net = new Sequential(new Linear(3, 2), new ReLU());
    const seen: number[][] = [];
    const h = net.getSubmodule('0').registerForwardHook((_m, _i, out) => {
      seen.push([...out.shape]);
    });
    noGrad(() => {
      net.forward(tensor(new Float32Array(6), [2, 3])).dispose();
    });
    h.remove();
    noGrad(() => {
      net.forward(tensor(new Float32Array(3), [1, 3])).dispose();
    });
    expect(seen).toEqual([[2, 2]]);
    expect(() => net.getSubmodule('7')).toThrow(/getSubmodule: no module named '7'/);
    net.dispose();
  });
});
