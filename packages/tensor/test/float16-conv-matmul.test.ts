// conv2d (forward, input and weight gradients), matmul (and its gradients) and the losses on
// float16 tensors, on every kernel path the CPU adapter can be made to take (direct, pointwise,
// implicit GEMM, split-K), against float64 references computed on the same rounded inputs.
//
// Tolerance: inputs are rounded to half first, so the reference sees exactly what the kernels
// read; the kernels accumulate in f32 (error ~1e-7 relative, as in the float32 tests, whose bound
// is 1e-4) and only the final store rounds to float16, a relative step of 2^-11 (~4.9e-4 at most
// per element, ~3e-4 RMS). relErr is an RMS-like norm, so 2e-3 leaves a 4x margin over the worst
// case rounding yet fails on any indexing or conversion bug (those give errors of order 1).
import { afterEach, describe, expect, it } from 'vitest';
import {
  autotuneConv,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  convGeometry,
  convTuning,
  convUsesGemm,
  crossEntropy,
  crossEntropyBackward,
  matmul,
  resetConvTiles,
  resetConvTuning,
  setConvTiles,
  tensor,
  weightGradSplit,
  type ConvShapeChoice,
  type ConvTiles,
  type Tensor,
} from '../src/index.ts';
import { roundToHalf } from '../src/float16.ts';
import { usesPointwise } from '../src/ops/conv/pointwise.ts';
import { activeConvTiles } from '../src/ops/conv/tiles.ts';
import { matmulBackwardA, matmulBackwardB } from '../src/ops/grad/grad.ts';
import { gpuDefault, matmulCandidates, setMatmulTiles, type MatmulConfig } from '../src/ops/matmul/index.ts';
import { randomArray, relErr, sizeOf, useDevice } from './helpers.ts';
import { refConv2d, refConv2dBackwardInput, refConv2dBackwardWeight, refGeom } from './reference/conv.ts';
import { refCrossEntropy, refCrossEntropyGrad } from './reference/loss.ts';
import { matmulRef } from './reference/matmul.ts';

useDevice();
afterEach(() => {
  resetConvTiles();
  setMatmulTiles(null);
});

const tol = 2e-3;
let seed = 1600;

/** Random values already rounded to half (what a float16 tensor holds) and the tensor itself. */
function half(shape: number[], lo = -1, hi = 1): { a: Float32Array; t: Tensor } {
  const a = Float32Array.from(randomArray(sizeOf(shape), seed++, lo, hi), roundToHalf);
  return { a, t: tensor(a, shape, 'float16') };
}

interface Case {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride?: number;
  padding?: number;
  groups?: number;
  bias?: 'float16' | 'float32';
}

const cases: Case[] = [
  { name: '3x3 stride 1 pad 1, 13x17, 5→7, float16 bias', x: [2, 5, 13, 17], w: [7, 5, 3, 3], padding: 1, bias: 'float16' },
  { name: '3x3 stride 2 pad 1, odd input, 6→9, float32 bias', x: [2, 6, 13, 11], w: [9, 6, 3, 3], stride: 2, padding: 1, bias: 'float32' },
  { name: '1x1 stride 2 (downsample, pointwise), 13→11', x: [2, 13, 8, 12], w: [11, 13, 1, 1], stride: 2 },
  { name: '1x1 stride 1 (pointwise, vec4 weights), 12→8', x: [3, 12, 6, 6], w: [8, 12, 1, 1], bias: 'float16' },
  { name: '7x7 stride 2 pad 3 (conv1), RGB, 17x13', x: [2, 3, 17, 13], w: [5, 3, 7, 7], stride: 2, padding: 3 },
  { name: 'groups 3, 9→12, 7x9', x: [1, 9, 7, 9], w: [12, 3, 3, 3], padding: 1, groups: 3, bias: 'float32' },
  { name: 'depthwise 3x3 stride 2 pad 1', x: [2, 5, 13, 17], w: [5, 1, 3, 3], stride: 2, padding: 1, groups: 5 },
  { name: 'narrow 2x2 maps, 16→16 (ResNet layer4)', x: [4, 16, 2, 2], w: [16, 16, 3, 3], padding: 1 },
];

const gemm: Partial<ConvTiles> = { path: 'implicitGemm', gemmMinGroupChannels: 1, gemmSmallBelow: 0 };
// Small odd tiles: loader slots that straddle the tile, tk not dividing K; cheap to compile.
const odd: Partial<ConvTiles> = { gemm: { tm: 3, tn: 2, wgM: 3, wgN: 2, tk: 4 }, wGemm: { tm: 2, tn: 3, wgM: 2, wgN: 3, tk: 4 } };
const runs: [string, Partial<ConvTiles>, (c: Case) => boolean][] = [
  ['direct kernels (CPU defaults: gather, pointwise, taps/rows weight gradients)', {}, () => true],
  ['direct kernels, weight gradient split-K 3 (float32 partials)', { wSplit: 3 }, (c) => !c.name.startsWith('1x1')],
  [
    'implicit GEMM, unsplit, blocked tiles',
    { ...gemm, gemm: { tm: 4, tn: 4, wgM: 3, wgN: 2, tk: 4, layout: 'blocked' }, gemmSplitTarget: 0, wSplit: 1 },
    () => true,
  ],
  ['implicit GEMM, split-K forward/input and weight 3 (float32 partials)', { ...gemm, ...odd, gemmSplitTarget: 1e6, wSplit: 3 }, () => true],
];

/** Largest relErr seen per pass, for the report printed at the end. */
const worst: Record<string, number> = {};
const note = (k: string, e: number) => {
  worst[k] = Math.max(worst[k] ?? 0, e);
  return e;
};

for (const [rname, cfg, pick] of runs) {
  describe(`float16 conv2d: ${rname}`, () => {
    for (const c of cases.filter(pick)) {
      it(c.name, async () => {
        setConvTiles(cfg);
        const o = { stride: c.stride ?? 1, padding: c.padding ?? 0, groups: c.groups ?? 1 };
        const r = { stride: [o.stride, o.stride] as [number, number], padding: [o.padding, o.padding] as [number, number], groups: o.groups };
        const g = refGeom(c.x, c.w, r);
        const geo = convGeometry('t', c.x, c.w, o);
        expect(convUsesGemm(geo)).toBe(cfg.path === 'implicitGemm');
        if (c.name.includes('pointwise') && !cfg.path) expect(usesPointwise(geo, activeConvTiles())).toBe(true);
        if (cfg.wSplit === 3 && !cfg.path) expect(weightGradSplit(geo, true).S).toBeGreaterThan(1);
        const x = half(c.x);
        const w = half(c.w);
        const dy = half([g.N, g.O, g.OH, g.OW]);
        const ba = c.bias ? Float32Array.from(randomArray(g.O, seed++), roundToHalf) : null;
        const b = ba ? tensor(ba, [g.O], c.bias) : null;
        const y = conv2d(x.t, w.t, b, o);
        const dx = conv2dBackwardInput(dy.t, w.t, c.x, o);
        const dw = conv2dBackwardWeight(dy.t, x.t, c.w, o);
        // Outputs follow the activations: y and dx as x and dy, dw as x (the weight copy's dtype).
        expect([y.dtype, dx.dtype, dw.dtype]).toEqual(['float16', 'float16', 'float16']);
        expect(y.shape).toEqual([g.N, g.O, g.OH, g.OW]);
        const [yo, dxo, dwo] = await Promise.all([y.toArray(), dx.toArray(), dw.toArray()]);
        expect(note('conv forward', relErr(yo, refConv2d(x.a, w.a, ba, g))), 'forward').toBeLessThan(tol);
        expect(note('conv input gradient', relErr(dxo, refConv2dBackwardInput(dy.a, w.a, g))), 'input gradient').toBeLessThan(tol);
        expect(note('conv weight gradient', relErr(dwo, refConv2dBackwardWeight(dy.a, x.a, g))), 'weight gradient').toBeLessThan(tol);
        // Autocast's form: float16 activations with the float32 weight as it is, and the weight
        // gradient written in float32 (dtype argument): no rounding of the weight or of dw.
        const w32 = tensor(w.a, c.w);
        const y2 = conv2d(x.t, w32, b, o);
        const dx2 = conv2dBackwardInput(dy.t, w32, c.x, o);
        const dw2 = conv2dBackwardWeight(dy.t, x.t, c.w, o, 'float32');
        expect([y2.dtype, dx2.dtype, dw2.dtype]).toEqual(['float16', 'float16', 'float32']);
        const [yo2, dxo2, dwo2] = await Promise.all([y2.toArray(), dx2.toArray(), dw2.toArray()]);
        expect(relErr(yo2, refConv2d(x.a, w.a, ba, g)), 'forward, float32 weight').toBeLessThan(tol);
        expect(relErr(dxo2, refConv2dBackwardInput(dy.a, w.a, g)), 'input gradient, float32 weight').toBeLessThan(tol);
        // A float32 result from float16 inputs: only f32 accumulation error.
        expect(note('conv weight gradient in float32', relErr(dwo2, refConv2dBackwardWeight(dy.a, x.a, g))), 'weight gradient in float32').toBeLessThan(1e-5);
        for (const t of [x.t, w.t, dy.t, y, dx, dw, w32, y2, dx2, dw2]) t.dispose();
        b?.dispose();
      });
    }
  });
}

describe('float16 conv2d: mixed operands', () => {
  it('float32 weight with float16 input: the output follows the input', async () => {
    const x = half([2, 5, 9, 11]);
    const wa = randomArray(7 * 5 * 9, seed++);
    const w = tensor(wa, [7, 5, 3, 3]);
    const g = refGeom([2, 5, 9, 11], [7, 5, 3, 3], { padding: [1, 1] });
    const y = conv2d(x.t, w, null, { padding: 1 });
    expect(y.dtype).toBe('float16');
    expect(note('conv forward', relErr(await y.toArray(), refConv2d(x.a, wa, null, g)))).toBeLessThan(tol);
    for (const t of [x.t, w, y]) t.dispose();
  });
});

describe('float16 conv2d: autotuner', () => {
  // The dtype is part of the shape key (float32 keys are unchanged), and the tuner times float16
  // operands for a float16 shape: every candidate must run (a failed candidate is skipped silently).
  const gc: ConvShapeChoice[] = [
    { gemm: { tm: 2, tn: 2, wgM: 4, wgN: 4, tk: 4 }, splitTarget: 0 },
    { gemm: { tm: 2, tn: 2, wgM: 4, wgN: 4, tk: 4 }, splitTarget: 1e6 },
  ];
  const wc: ConvShapeChoice[] = [
    { gemm: { tm: 2, tn: 2, wgM: 4, wgN: 4, tk: 4 }, splitTarget: 1 },
    { gemm: { tm: 2, tn: 2, wgM: 4, wgN: 4, tk: 8 }, splitTarget: 64 },
  ];
  it('tunes float16 shapes on float16 operands under their own key', async () => {
    resetConvTuning();
    try {
      setConvTiles({ path: 'implicitGemm' });
      const xs = [2, 12, 9, 7];
      const ws = [10, 12, 3, 3];
      const g = refGeom(xs, ws, { padding: [1, 1] });
      const x = half(xs);
      const w = half(ws);
      const dy = half([g.N, g.O, g.OH, g.OW]);
      const pass = () => [
        conv2d(x.t, w.t, null, { padding: 1 }),
        conv2dBackwardInput(dy.t, w.t, xs, { padding: 1 }),
        conv2dBackwardWeight(dy.t, x.t, ws, { padding: 1 }),
      ];
      for (const t of pass()) t.dispose();
      const results = await autotuneConv({ force: true, persist: false, reps: 1, candidates: { gemm: gc, weight: wc } });
      expect(results.map((r) => r.key.split(' ')[0]).sort()).toEqual(['conv2d', 'conv2dBackwardInput', 'conv2dBackwardWeight']);
      for (const r of results) {
        expect(r.key.endsWith(' float16')).toBe(true);
        expect(r.timings.length).toBe(2);
        expect(convTuning().choices[r.key]).toEqual(r.best);
      }
      // Tuned kernels still agree with float64.
      const [y, dx, dw] = pass();
      expect(relErr(await y.toArray(), refConv2d(x.a, w.a, null, g))).toBeLessThan(tol);
      expect(relErr(await dx.toArray(), refConv2dBackwardInput(dy.a, w.a, g))).toBeLessThan(tol);
      expect(relErr(await dw.toArray(), refConv2dBackwardWeight(dy.a, x.a, g))).toBeLessThan(tol);
      for (const t of [x.t, w.t, dy.t, y, dx, dw]) t.dispose();
    } finally {
      resetConvTuning();
    }
  });
});

/** Stored shapes of A and B for logical [M,K] @ [K,N]. */
const stored = (M: number, K: number, N: number, tA: boolean, tB: boolean): [number[], number[]] => [tA ? [K, M] : [M, K], tB ? [N, K] : [K, N]];

async function checkMatmul(aShape: number[], bShape: number[], tA = false, tB = false, key = 'matmul'): Promise<void> {
  const a = half(aShape);
  const b = half(bShape);
  const out = matmul(a.t, b.t, { transA: tA, transB: tB });
  const ref = matmulRef(a.a, aShape, b.a, bShape, tA, tB);
  expect(out.dtype).toBe('float16');
  expect(out.shape).toEqual(ref.shape);
  expect(note(key, relErr(await out.toArray(), ref.data)), `${aShape}${tA ? 'ᵀ' : ''} @ ${bShape}${tB ? 'ᵀ' : ''}`).toBeLessThan(tol);
  for (const t of [a.t, b.t, out]) t.dispose();
}

const combos: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

describe('float16 matmul', () => {
  it("dtype option: a float16 activation with a float32 weight gives float16 (Linear under autocast); gradients come in each operand's dtype", async () => {
    const x = Float32Array.from(randomArray(5 * 37, 3), roundToHalf);
    const w = randomArray(11 * 37, 4);
    const dy = Float32Array.from(randomArray(5 * 11, 5), roundToHalf);
    const xt = tensor(x, [5, 37], 'float16');
    const wt = tensor(w, [11, 37]);
    const dyt = tensor(dy, [5, 11], 'float16');
    const y = matmul(xt, wt, { transB: true, dtype: 'float16' });
    expect(y.dtype).toBe('float16');
    const wT = new Float32Array(37 * 11);
    for (let i = 0; i < 11; i++) for (let k = 0; k < 37; k++) wT[k * 11 + i] = w[i * 37 + k];
    expect(relErr(await y.toArray(), matmulRef(x, [5, 37], wT, [37, 11]).data)).toBeLessThan(tol);
    const dx = matmulBackwardA(dyt, xt, wt, { transB: true });
    const dw = matmulBackwardB(dyt, xt, wt, { transB: true });
    expect([dx.dtype, dw.dtype]).toEqual(['float16', 'float32']);
    expect(relErr(await dx.toArray(), matmulRef(dy, [5, 11], w, [11, 37]).data)).toBeLessThan(tol);
    // dW = dyᵀ x, written in float32 from float16 operands: f32 accumulation error only.
    const dyT = new Float32Array(11 * 5);
    for (let n = 0; n < 5; n++) for (let i = 0; i < 11; i++) dyT[i * 5 + n] = dy[n * 11 + i];
    expect(relErr(await dw.toArray(), matmulRef(dyT, [11, 5], x, [5, 37]).data)).toBeLessThan(1e-5);
  });

  it('promotes as the elementwise ops: float16 only when both operands are', async () => {
    const h = tensor(randomArray(12, 1), [3, 4], 'float16');
    const f = tensor(randomArray(20, 2), [4, 5]);
    const fh = tensor(randomArray(20, 2), [4, 5], 'float16');
    expect(matmul(h, f).dtype).toBe('float32');
    expect(matmul(tensor(randomArray(12, 1), [3, 4]), fh).dtype).toBe('float32');
    expect(matmul(h, fh).dtype).toBe('float16');
  });

  it('default tiles (small kernel and this adapter’s tuned lanes), every transpose, odd sizes', async () => {
    for (const [tA, tB] of combos) {
      await checkMatmul(...stored(3, 5, 7, tA, tB), tA, tB); // the small kernel
      await checkMatmul(...stored(37, 129, 61, tA, tB), tA, tB); // tiled
    }
    await checkMatmul([2, 21, 36], [36, 45]); // batched, broadcast B
  });

  it('every GPU shared-tile candidate, unsplit and split-K (float32 partials)', async () => {
    const shared = matmulCandidates(false);
    for (const [i, c] of shared.entries()) {
      setMatmulTiles({ ...c, splitTarget: 0 } as MatmulConfig);
      const [tA, tB] = combos[i % 4];
      await checkMatmul(...stored(37, 45, 131, tA, tB), tA, tB);
    }
    for (const c of [gpuDefault, shared.find((x) => x.kind === 'shared' && x.layout === 'blocked')!]) {
      setMatmulTiles({ ...c, splitTarget: 1e6 } as MatmulConfig);
      await checkMatmul([5, 1003], [7, 1003], false, true, 'matmul split-K');
      await checkMatmul([2, 517, 19], [2, 3, 517], true, true, 'matmul split-K');
    }
  });

  it('gradients (Linear: x [N, in] @ Wᵀ) keep float16', async () => {
    for (const [N, I, O] of [
      [5, 7, 3],
      [33, 70, 19],
    ]) {
      const x = half([N, I]);
      const w = half([O, I]);
      const dy = half([N, O]);
      const da = matmulBackwardA(dy.t, x.t, w.t, { transB: true });
      const db = matmulBackwardB(dy.t, x.t, w.t, { transB: true });
      expect([da.dtype, db.dtype]).toEqual(['float16', 'float16']);
      expect(db.shape).toEqual([O, I]);
      // dx = dy @ W, dW = dyᵀ @ x
      expect(note('matmul backward', relErr(await da.toArray(), matmulRef(dy.a, [N, O], w.a, [O, I]).data))).toBeLessThan(tol);
      expect(note('matmul backward', relErr(await db.toArray(), matmulRef(dy.a, [N, O], x.a, [N, I], true).data))).toBeLessThan(tol);
      for (const t of [x.t, w.t, dy.t, da, db]) t.dispose();
    }
  });
});

describe('float16 cross-entropy', () => {
  it('float16 logits: the loss is float32, the logits gradient float16', async () => {
    const N = 13;
    const C = 7;
    const z = half([N, C], -4, 4);
    const labelsA = Int32Array.from({ length: N }, (_, i) => (i * 5) % C);
    labelsA[3] = -100; // ignored row
    const labels = tensor(labelsA, [N], 'int32');
    const wa = Float32Array.from(randomArray(C, seed++, 0.5, 2));
    const weight = tensor(wa, [C]);
    for (const o of [{}, { reduction: 'none' as const }, { labelSmoothing: 0.1, weight }]) {
      const ro = {
        reduction: 'reduction' in o ? o.reduction : undefined,
        smoothing: 'labelSmoothing' in o ? o.labelSmoothing : 0,
        weight: 'weight' in o ? wa : undefined,
      };
      const loss = crossEntropy(z.t, labels, o);
      expect(loss.dtype).toBe('float32');
      // The loss is computed in f32 from the (exact) half inputs: float32 accuracy.
      expect(note('cross-entropy loss', relErr(await loss.toArray(), refCrossEntropy(z.a, labelsA, N, C, ro)))).toBeLessThan(1e-5);
      const gOut = ro.reduction === 'none' ? new Float64Array(N).fill(1) : [1];
      const dz = crossEntropyBackward(z.t, labels, o);
      expect(dz.dtype).toBe('float16');
      expect(dz.shape).toEqual([N, C]);
      expect(note('cross-entropy logits gradient', relErr(await dz.toArray(), refCrossEntropyGrad(z.a, labelsA, N, C, ro, gOut)))).toBeLessThan(tol);
      for (const t of [loss, dz]) t.dispose();
    }
    for (const t of [z.t, labels, weight]) t.dispose();
  });
});

describe('float16 report', () => {
  it('prints the largest relErr per family', () => {
    console.log(`float16 largest relErr: ${JSON.stringify(worst)}`);
    expect(Object.keys(worst).length).toBeGreaterThan(0);
  });
});
