// The implicit-GEMM (GPU-path) conv kernels forced on the CPU adapter: the whole conv case matrix
// (forward, input gradient, weight gradient with and without split-K) against float64 references,
// under the default NVIDIA-class tiles and under small odd tiles whose loaders have partial slots.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  convGeometry,
  convUsesGemm,
  gemmWeightGradSplit,
  getConvTiles,
  gpu,
  resetConvTiles,
  setConvTiles,
  tensor,
  type ConvTiles,
} from '../src/index.ts';
import { forwardSpec } from '../src/ops/conv/conv.ts';
import { convSplitOf, gemmConvSplitK } from '../src/ops/conv/conv-gemm.wgsl.ts';
import { randomArray, relErr, sizeOf, useDevice } from './helpers.ts';
import { convCases, convOperands, convOptions, type ConvCase } from './reference/convCases.ts';
import { dot, refConv2d, refConv2dBackwardInput, refConv2dBackwardWeight, refGeom } from './reference/conv.ts';

useDevice();
beforeAll(() => setConvTiles({ path: 'implicitGemm', gemmMinGroupChannels: 1 }));
afterAll(() => resetConvTiles());

const cases = convCases;
type Case = ConvCase;

const opts = convOptions;

// Cold shader compiles on lavapipe dominate this file's time (~0.2 s per small kernel, ~1 s per
// default-tile kernel; each stride residue class of the input gradient is its own kernel), so the
// full matrix runs once under small odd tiles (loader slots that straddle the tile, several
// pixel/k decodes per invocation, tk not dividing K, split-K 3), and the NVIDIA-class default
// tiles run on two stride-1 cases.
const odd: Partial<ConvTiles> = {
  gemm: { tm: 3, tn: 2, wgM: 3, wgN: 2, tk: 4 },
  wGemm: { tm: 2, tn: 3, wgM: 2, wgN: 3, tk: 4 },
  wSplit: 3,
  gemmSmallBelow: 0,
};
const runs: [string, Partial<ConvTiles>, Case[], boolean][] = [
  // Forward / input-gradient split-K on every case (a huge target: as many slices as K allows;
  // an input gradient's stride classes share the slices, shorter classes leave some empty).
  ['odd tiles 3x2 / 3x2 invocations, tk 4, weight split-K 3, forward/input split-K', { ...odd, gemmSplitTarget: 1e6 }, cases, false],
  [
    'odd tiles, unsplit forward/input',
    { ...odd, gemmSplitTarget: 0 },
    cases.filter((c) => /stride 2 odd input pad 1|dilation 2|groups 3|37→70/.test(c.name)),
    false,
  ],
  [
    'default GPU tiles (gemm, not gemmSmall), unsplit',
    { gemmSmallBelow: 0, gemmSplitTarget: 0 },
    cases.filter((c) => /13x17, 3→5|37→70|16→16/.test(c.name)),
    true,
  ],
  // 'blocked': invocations own 4-aligned pixel/channel runs, read from workgroup memory as vec4.
  [
    'blocked tiles 4x8 / 3x2 invocations (weight gradient 4x4 / 2x3), tk 4, split-K',
    {
      ...odd,
      gemm: { tm: 4, tn: 8, wgM: 3, wgN: 2, tk: 4, layout: 'blocked' },
      wGemm: { tm: 4, tn: 4, wgM: 2, wgN: 3, tk: 4, layout: 'blocked' },
      gemmSplitTarget: 1e6,
    },
    cases.filter((c) => /stride 2 odd input pad 1|groups 3|37→70|tap-major K: 3x3 stride 2|ResNet conv1/.test(c.name)),
    false,
  ],
  // Prefetch: the next K tile's global loads issued before this tile's FMAs.
  [
    'odd tiles with prefetch, split-K',
    { ...odd, gemm: { ...odd.gemm!, prefetch: true }, wGemm: { ...odd.wGemm!, prefetch: true }, gemmSplitTarget: 1e6 },
    cases.filter((c) => /stride 2 odd input pad 1|dilation 2|37→70|tap-major K: 3x3 stride 2/.test(c.name)),
    false,
  ],
  [
    'blocked tiles with prefetch, unsplit',
    {
      ...odd,
      gemm: { tm: 4, tn: 4, wgM: 3, wgN: 2, tk: 4, layout: 'blocked', prefetch: true },
      wGemm: { tm: 4, tn: 4, wgM: 2, wgN: 3, tk: 4, layout: 'blocked', prefetch: true },
      gemmSplitTarget: 0,
    },
    cases.filter((c) => /stride 2 odd input pad 1|tap-major K: 3x3 pad 1/.test(c.name)),
    false,
  ],
  [
    'blocked 128x128 tiles (8x8 x 16x16), unsplit',
    {
      ...odd,
      gemm: { tm: 8, tn: 8, wgM: 16, wgN: 16, tk: 8, layout: 'blocked' },
      wGemm: { tm: 8, tn: 8, wgM: 16, wgN: 16, tk: 8, layout: 'blocked' },
      wSplit: 0,
      gemmSplitTarget: 0,
    },
    cases.filter((c) => /37→70/.test(c.name)),
    false,
  ],
];

for (const [cname, cfg, list, splits] of runs) {
  describe(`implicit-GEMM conv vs float64 reference: ${cname}`, () => {
    let seed = 700;
    for (const c of list) {
      it(c.name, async () => {
        setConvTiles(cfg);
        try {
          const o = opts(c);
          const g = refGeom(c.x, c.w, o as never);
          expect(convUsesGemm(convGeometry('t', c.x, c.w, o))).toBe(true);
          const { xa, wa, ba, dya, x, w, b, dy } = convOperands(c, g, () => seed++);
          const y = conv2d(x, w, b, o);
          const dx = conv2dBackwardInput(dy, w, c.x, o);
          const dw = conv2dBackwardWeight(dy, x, c.w, o);
          const [yo, dxo, dwo] = await Promise.all([y.toArray(), dx.toArray(), dw.toArray()]);
          expect(relErr(yo, refConv2d(xa, wa, ba, g))).toBeLessThan(1e-4);
          expect(relErr(dxo, refConv2dBackwardInput(dya, wa, g))).toBeLessThan(1e-4);
          const refDw = refConv2dBackwardWeight(dya, xa, g);
          expect(relErr(dwo, refDw)).toBeLessThan(1e-4);
          const yNoBias = ba ? Float64Array.from(yo, (v, i) => v - ba[Math.floor(i / (g.OH * g.OW)) % g.O]) : yo;
          const lhs = dot(yNoBias, dya);
          expect(Math.abs(dot(xa, dxo) - lhs)).toBeLessThan(1e-4 * (Math.abs(lhs) + Math.sqrt(yo.length)));
          // Weight gradient unsplit (S = 1, written in place) and in one-K-tile chunks.
          for (const wSplit of splits ? [1, 1000] : []) {
            setConvTiles({ wSplit });
            const dw2 = conv2dBackwardWeight(dy, x, c.w, o);
            expect(relErr(await dw2.toArray(), refDw), `wSplit ${wSplit}`).toBeLessThan(1e-4);
            dw2.dispose();
          }
          for (const t of [x, w, dy, y, dx, dw]) t.dispose();
          b?.dispose();
        } finally {
          resetConvTiles();
          setConvTiles({ path: 'implicitGemm', gemmMinGroupChannels: 1 });
        }
      });
    }
  });
}

describe('kernel family selection', () => {
  it('auto picks the direct kernels on a CPU adapter, implicit GEMM on a GPU; depthwise falls back', () => {
    resetConvTiles();
    try {
      const resnet = convGeometry('t', [8, 64, 56, 56], [64, 64, 3, 3], { padding: 1 });
      const dwise = convGeometry('t', [8, 64, 56, 56], [64, 1, 3, 3], { padding: 1, groups: 64 });
      const g32 = convGeometry('t', [8, 64, 56, 56], [64, 32, 3, 3], { padding: 1, groups: 2 });
      expect(convUsesGemm(resnet, true)).toBe(false);
      expect(convUsesGemm(resnet, false)).toBe(true);
      expect(convUsesGemm(dwise, false)).toBe(false);
      expect(convUsesGemm(g32, false)).toBe(true);
      setConvTiles({ path: 'implicitGemm' });
      expect(convUsesGemm(resnet, true)).toBe(true);
      setConvTiles({ path: 'direct' });
      expect(convUsesGemm(resnet, false)).toBe(false);
      // Split-K fills the device on the ResNet layer (9 output tiles) and stays unsplit when tiles suffice.
      resetConvTiles();
      const p = gemmWeightGradSplit(resnet);
      expect(p.S * 9).toBeGreaterThanOrEqual(800);
      expect(p.CK % 32).toBe(0);
      expect(p.S * p.CK).toBeGreaterThanOrEqual(8 * 56 * 56);
      const big = convGeometry('t', [8, 512, 28, 28], [512, 512, 3, 3], { padding: 1 });
      expect(gemmWeightGradSplit(big).S).toBeLessThanOrEqual(2);
      expect(() => setConvTiles({ gemm: { tm: 0, tn: 4, wgM: 16, wgN: 16, tk: 8 } })).toThrow(/setConvTiles: conv GEMM tile tm/);
      expect(() => setConvTiles({ gemm: { tm: 2, tn: 4, wgM: 16, wgN: 16, tk: 8, layout: 'blocked' } })).toThrow(/multiples of 4/);
      // Forward / input-gradient split-K: ResNet's 512 @ 7 at batch 32 (200 output tiles) is cut
      // into slices of the 4608-long K; VGG's 256 @ 56 (1568 tiles) is not.
      const t = getConvTiles();
      const small = convGeometry('t', [32, 512, 7, 7], [512, 512, 3, 3], { padding: 1 });
      const S = gemmConvSplitK(forwardSpec(small, false), t.gemm, t.gemmSplitTarget, 32 * 512 * 49, 2 ** 26);
      expect(S).toBe(Math.ceil(1024 / 200));
      const vgg = convGeometry('t', [32, 256, 56, 56], [256, 256, 3, 3], { padding: 1 });
      expect(gemmConvSplitK(forwardSpec(vgg, false), t.gemm, t.gemmSplitTarget, 32 * 256 * 3136, 2 ** 26)).toBe(1);
      // The families are named for what they are, not for an adapter: the old names are refused.
      expect(() => setConvTiles({ path: 'gpu' as never })).toThrow(/setConvTiles: path must be 'auto', 'direct' or 'implicitGemm', got "gpu"/);
    } finally {
      resetConvTiles();
      setConvTiles({ path: 'implicitGemm', gemmMinGroupChannels: 1 });
    }
  });
});

// A partial last batch (or an evaluation batch) must reuse the GEMM pipelines of the first batch:
// the batch, the split counts (forward / input gradient and weight gradient, 1 or more) and the
// bias's place (in the kernel unsplit, in the sum when split) are uniforms. Split targets here
// make S change with the batch, through 1; every batch is checked against float64.
describe('implicit-GEMM conv: batch changes reuse the pipelines', () => {
  const shapes: {
    name: string;
    x: [number, number, number, number];
    w: [number, number, number, number];
    o: { stride: [number, number]; padding: [number, number] };
    target: number;
    minK: number;
  }[] = [
    {
      name: 'stride 2 pad 1, 5→6 (K decoded per element), bias',
      x: [0, 5, 9, 7],
      w: [6, 5, 3, 3],
      o: { stride: [2, 2], padding: [1, 1] },
      target: 12,
      minK: 16,
    },
    { name: 'tap-major K: 3x3 pad 1, 12→10, bias', x: [0, 12, 7, 5], w: [10, 12, 3, 3], o: { stride: [1, 1], padding: [1, 1] }, target: 30, minK: 24 },
  ];
  for (const sh of shapes) {
    it(sh.name, async () => {
      setConvTiles({ ...odd, gemmSplitTarget: sh.target, wSplit: 0, gemmWgTarget: 1e6, gemmMinK: sh.minK });
      const cache = gpu().pipelines;
      const get = cache.get;
      const compiled: string[] = [];
      cache.get = (prelude: string, body: string, label: string) => {
        const n = cache.size;
        const p = get.call(cache, prelude, body, label);
        if (cache.size !== n) compiled.push(label.split(' ')[0]);
        return p;
      };
      try {
        const splits: number[] = [];
        const wSplits: number[] = [];
        let seed = 900;
        for (const N of [3, 2, 1]) {
          const xs: [number, number, number, number] = [N, sh.x[1], sh.x[2], sh.x[3]];
          const g = refGeom(xs, sh.w, sh.o as never);
          const geom = convGeometry('t', xs, sh.w, sh.o);
          const t = getConvTiles();
          const spec = forwardSpec(geom, true);
          splits.push(convSplitOf(spec, t.gemm, gemmConvSplitK(spec, t.gemm, t.gemmSplitTarget, N * g.O * g.OH * g.OW, 2 ** 26)).S);
          wSplits.push(gemmWeightGradSplit(geom).S);
          const xa = randomArray(sizeOf(xs), seed++);
          const wa = randomArray(sizeOf(sh.w), seed++);
          const ba = randomArray(sh.w[0], seed++);
          const dya = randomArray(N * g.O * g.OH * g.OW, seed++);
          const x = tensor(xa, xs);
          const w = tensor(wa, sh.w);
          const b = tensor(ba, [sh.w[0]]);
          const dy = tensor(dya, [N, g.O, g.OH, g.OW]);
          const before = compiled.length;
          const y = conv2d(x, w, b, sh.o);
          const dx = conv2dBackwardInput(dy, w, xs, sh.o);
          const dw = conv2dBackwardWeight(dy, x, sh.w, sh.o);
          const [yo, dxo, dwo] = await Promise.all([y.toArray(), dx.toArray(), dw.toArray()]);
          expect(relErr(yo, refConv2d(xa, wa, ba, g)), `forward, batch ${N}`).toBeLessThan(1e-4);
          expect(relErr(dxo, refConv2dBackwardInput(dya, wa, g)), `input gradient, batch ${N}`).toBeLessThan(1e-4);
          expect(relErr(dwo, refConv2dBackwardWeight(dya, xa, g)), `weight gradient, batch ${N}`).toBeLessThan(1e-4);
          for (const t of [x, w, b, dy, y, dx, dw]) t.dispose();
          // After the first batch only a sum's first use may compile (a shape that was unsplit before).
          if (N !== 3)
            expect(
              compiled.slice(before).filter((l) => !/\.sum(Splits|Partials)$/.test(l)),
              `new GEMM pipelines at batch ${N}`,
            ).toEqual([]);
        }
        // The batches did move the splits through 1 (so the check above covers S = 1 <-> S > 1).
        expect(Math.min(...splits)).toBe(1);
        expect(Math.max(...splits)).toBeGreaterThan(1);
        expect(new Set(wSplits).size).toBeGreaterThan(1);
        expect(Math.min(...wSplits)).toBe(1);
      } finally {
        cache.get = get;
        resetConvTiles();
        setConvTiles({ path: 'implicitGemm', gemmMinGroupChannels: 1 });
      }
    });
  }
});
