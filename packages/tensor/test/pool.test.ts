import { describe, expect, it } from 'vitest';
import { adaptiveAvgPool2d, adaptiveAvgPool2dBackward, avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward, memoryStats, tensor } from '../src/index.ts';
import { setMaxPool2dBackwardForm } from '../src/ops/pool/pool.ts';
import { randomArray, relErr, useDevice } from './helpers.ts';
import {
  refAdaptiveAvgPool,
  refAdaptiveAvgPoolBackward,
  refAvgPool,
  refAvgPoolBackward,
  refMaxPool,
  refMaxPoolBackward,
  type RefPool,
} from './reference/pool.ts';

useDevice();

const geo = (k: number, s: number, p = 0, d = 1, ceil = false): RefPool => ({ kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, dh: d, dw: d, ceil });

describe('maxPool2d', () => {
  const cases: [string, number[], RefPool][] = [
    ['2x2/2 on 13x17, 3 channels', [2, 3, 13, 17], geo(2, 2)],
    ['3x3/2 pad 1 (ResNet stem) on 13x17', [2, 5, 13, 17], geo(3, 2, 1)],
    ['3x3/2 ceil mode on 7x7', [1, 3, 7, 7], geo(3, 2, 0, 1, true)],
    ['2x2/2 ceil mode pad 1 on odd input', [3, 1, 9, 11], geo(2, 2, 1, 1, true)],
    ['3x3/1 dilation 2 pad 1', [1, 5, 13, 17], geo(3, 1, 1, 2)],
    ['1x1/1', [1, 3, 5, 7], geo(1, 1)],
    ['3x2 kernel, stride [1,2], pad [1,0], dilation [2,1]', [2, 3, 11, 9], { kh: 3, kw: 2, sh: 1, sw: 2, ph: 1, pw: 0, dh: 2, dw: 1, ceil: false }],
    ['ties: constant input, 3x3/2 pad 1 (first maximum wins, shared elements sum)', [2, 2, 9, 10], geo(3, 2, 1)],
    ['ties: coarse values, 3x3/1 pad 1', [1, 4, 8, 7], geo(3, 1, 1)],
  ];
  for (const [name, shape, o] of cases) {
    it(name, async () => {
      const n = shape.reduce((a, b) => a * b);
      let xs = randomArray(n, shape.length * 7 + o.kh, -2, 2);
      if (name.startsWith('ties: constant')) xs = new Float32Array(n).fill(0.5);
      else if (name.startsWith('ties')) xs = xs.map((v) => Math.round(v));
      const x = tensor(xs, shape);
      const opts = { kernelSize: [o.kh, o.kw], stride: [o.sh, o.sw], padding: [o.ph, o.pw], dilation: [o.dh, o.dw], ceilMode: o.ceil } as const;
      const { out, indices } = maxPool2d(x, opts);
      const ref = refMaxPool(xs, shape, o);
      expect(out.shape).toEqual([shape[0], shape[1], ref.OH, ref.OW]);
      expect(relErr(await out.toArray(), ref.out)).toBe(0);
      expect([...(await indices.toInt32Array())]).toEqual([...ref.idx]);
      const dys = randomArray(out.size, 99);
      const dy = tensor(dys, out.shape);
      const refDx = refMaxPoolBackward(dys, ref.idx, shape, ref.OH * ref.OW);
      // Both kernels on every adapter: 'auto' picks scatter on lavapipe and gather on GPUs.
      for (const form of ['scatter', 'gather'] as const) {
        setMaxPool2dBackwardForm(form);
        const dx = maxPool2dBackward(dy, indices, shape, opts);
        expect(relErr(await dx.toArray(), refDx), form).toBeLessThan(1e-6);
        dx.dispose();
      }
      setMaxPool2dBackwardForm('auto');
      for (const t of [x, out, indices, dy]) t.dispose();
    });
  }
  it('the backward compiles no new pipeline for another batch size (scatter: none for another shape)', () => {
    const shapes = [
      [4, 3, 12, 12],
      [1, 3, 12, 12],
      [2, 5, 9, 7],
    ];
    const opts = { kernelSize: 3, stride: 2, padding: 1 };
    const fwd = shapes.map((s) =>
      maxPool2d(
        tensor(
          randomArray(
            s.reduce((a, b) => a * b),
            3,
          ),
          s,
        ),
        opts,
      ),
    );
    const grads = [];
    for (const form of ['gather', 'scatter'] as const) {
      setMaxPool2dBackwardForm(form);
      grads.push(maxPool2dBackward(fwd[0].out, fwd[0].indices, shapes[0], opts));
      const compiled = memoryStats().pipelines;
      grads.push(maxPool2dBackward(fwd[1].out, fwd[1].indices, shapes[1], opts));
      if (form === 'scatter') grads.push(maxPool2dBackward(fwd[2].out, fwd[2].indices, shapes[2], opts));
      expect(memoryStats().pipelines, form).toBe(compiled);
    }
    setMaxPool2dBackwardForm('auto');
    for (const t of [...grads, ...fwd.flatMap((f) => [f.out, f.indices])]) t.dispose();
  });
  it('rejects bad input naming the op and shape', () => {
    const x = tensor(randomArray(15, 1), [3, 5]);
    expect(() => maxPool2d(x, { kernelSize: 2 })).toThrow(/maxPool2d.*\[3,5\]/);
    const y = tensor(randomArray(2 * 2 * 3 * 3, 1), [2, 2, 3, 3]);
    expect(() => maxPool2d(y, { kernelSize: 2, padding: 2 })).toThrow(/maxPool2d: padding/);
    expect(() => maxPool2d(y, { kernelSize: 5 })).toThrow(/too small/);
    x.dispose();
    y.dispose();
  });
});

describe('avgPool2d', () => {
  const cases: [string, number[], RefPool, boolean][] = [
    ['2x2/2 on 13x17', [2, 3, 13, 17], geo(2, 2), true],
    ['3x3/2 pad 1 countIncludePad', [2, 5, 13, 17], geo(3, 2, 1), true],
    ['3x3/2 pad 1 exclude pad', [2, 5, 13, 17], geo(3, 2, 1), false],
    ['3x3/2 ceil mode pad 1 on 7x7, include pad', [1, 3, 7, 7], geo(3, 2, 1, 1, true), true],
    ['2x2/2 ceil mode on 9x11, exclude pad', [3, 1, 9, 11], geo(2, 2, 0, 1, true), false],
  ];
  for (const [name, shape, o, cip] of cases) {
    it(name, async () => {
      const xs = randomArray(
        shape.reduce((a, b) => a * b),
        5 + shape[1],
        -2,
        2,
      );
      const x = tensor(xs, shape);
      const opts = { kernelSize: o.kh, stride: o.sh, padding: o.ph, ceilMode: o.ceil, countIncludePad: cip };
      const out = avgPool2d(x, opts);
      const ref = refAvgPool(xs, shape, o, cip);
      expect(out.shape).toEqual([shape[0], shape[1], ref.OH, ref.OW]);
      expect(relErr(await out.toArray(), ref.out)).toBeLessThan(1e-6);
      const dys = randomArray(out.size, 77);
      const dy = tensor(dys, out.shape);
      const dx = avgPool2dBackward(dy, shape, opts);
      expect(relErr(await dx.toArray(), refAvgPoolBackward(dys, shape, ref.OH, ref.OW, o, cip))).toBeLessThan(1e-6);
      for (const t of [x, out, dy, dx]) t.dispose();
    });
  }
});

describe('adaptiveAvgPool2d', () => {
  const cases: [number[], number, number][] = [
    [[2, 3, 13, 17], 7, 7],
    [[2, 5, 13, 17], 1, 1],
    [[1, 3, 7, 7], 7, 7],
    [[2, 3, 5, 3], 7, 7], // upsampling bins overlap
    [[1, 5, 13, 17], 3, 5],
  ];
  for (const [shape, OH, OW] of cases) {
    it(`${shape.join('x')} -> ${OH}x${OW}`, async () => {
      const xs = randomArray(
        shape.reduce((a, b) => a * b),
        shape[2] * 3 + OH,
        -2,
        2,
      );
      const x = tensor(xs, shape);
      const out = adaptiveAvgPool2d(x, [OH, OW]);
      expect(out.shape).toEqual([shape[0], shape[1], OH, OW]);
      const o = await out.toArray();
      expect(relErr(o, refAdaptiveAvgPool(xs, shape, OH, OW))).toBeLessThan(1e-6);
      if (shape[2] === OH && shape[3] === OW) expect(relErr(o, xs)).toBe(0);
      const dys = randomArray(out.size, 55);
      const dy = tensor(dys, out.shape);
      const dx = adaptiveAvgPool2dBackward(dy, shape);
      expect(relErr(await dx.toArray(), refAdaptiveAvgPoolBackward(dys, shape, OH, OW))).toBeLessThan(1e-6);
      for (const t of [x, out, dy, dx]) t.dispose();
    });
  }
});
