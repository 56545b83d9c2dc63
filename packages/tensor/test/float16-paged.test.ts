// float16 conv2d (direct and implicit-GEMM kernels, split-K partials included) and matmul with
// tensors split into several storage-binding pages: a small maxBindingBytes gives pages of 2048
// elements, which a float16 tensor fills with half the bytes of a float32 one.
// Tolerance 2e-3 as in float16-conv-matmul.test.ts: rounded inputs, f32 accumulation, one
// rounding to half (2^-11 relative) on the final store.
import { afterEach, expect, it } from 'vitest';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, gpu, matmul, resetConvTiles, setConvTiles, tensor, type Tensor } from '../src/index.ts';
import { roundToHalf } from '../src/float16.ts';
import { setMatmulTiles, gpuDefault, type MatmulConfig } from '../src/ops/matmul/index.ts';
import { randomArray, relErr, sizeOf, useDevice } from './helpers.ts';
import { refConv2d, refConv2dBackwardInput, refConv2dBackwardWeight, refGeom } from './reference/conv.ts';
import { matmulRef } from './reference/matmul.ts';

useDevice({ maxBindingBytes: 8192 });
afterEach(() => {
  resetConvTiles();
  setMatmulTiles(null);
});

const tol = 2e-3;
let seed = 2600;
function half(shape: number[]): { a: Float32Array; t: Tensor } {
  const a = Float32Array.from(randomArray(sizeOf(shape), seed++), roundToHalf);
  return { a, t: tensor(a, shape, 'float16') };
}

const small = { gemm: { tm: 3, tn: 2, wgM: 3, wgN: 2, tk: 4 }, wGemm: { tm: 2, tn: 3, wgM: 2, wgN: 3, tk: 4 }, gemmSmallBelow: 0 };
const cases: { x: [number, number, number, number]; w: [number, number, number, number]; s: number; p: number }[] = [
  // x 5168 elements (3 pages), weight 2304 (2 pages).
  { x: [2, 16, 17, 19], w: [16, 16, 3, 3], s: 1, p: 1 },
  { x: [2, 8, 17, 19], w: [9, 8, 3, 3], s: 2, p: 1 },
  { x: [2, 3, 33, 31], w: [5, 3, 7, 7], s: 2, p: 3 },
];

for (const path of ['direct', 'implicitGemm'] as const) {
  for (const c of cases) {
    it(`float16 conv, ${path}, paged x${JSON.stringify(c.x)} w${JSON.stringify(c.w)} stride ${c.s} pad ${c.p}`, async () => {
      expect(gpu().pageElements).toBe(2048);
      setConvTiles(path === 'direct' ? {} : { path, ...small });
      const g = refGeom(c.x, c.w, { stride: [c.s, c.s], padding: [c.p, c.p] });
      const x = half(c.x);
      const w = half(c.w);
      const dy = half([g.N, g.O, g.OH, g.OW]);
      const o = { stride: c.s, padding: c.p };
      const refDw = refConv2dBackwardWeight(dy.a, x.a, g);
      const outs = [conv2d(x.t, w.t, null, o), conv2dBackwardInput(dy.t, w.t, c.x, o), conv2dBackwardWeight(dy.t, x.t, c.w, o)];
      expect(outs.map((t) => t.dtype)).toEqual(['float16', 'float16', 'float16']);
      const [yo, dxo, dwo] = await Promise.all(outs.map((t) => t.toArray()));
      expect(relErr(yo, refConv2d(x.a, w.a, null, g)), 'forward').toBeLessThan(tol);
      expect(relErr(dxo, refConv2dBackwardInput(dy.a, w.a, g)), 'input gradient').toBeLessThan(tol);
      expect(relErr(dwo, refDw), 'weight gradient').toBeLessThan(tol);
      // Split-K where the float32 partials [S, O, C, KH, KW] fit the one-page cap (the two smaller
      // weights), summed into a float16 dw read from and written to paged tensors.
      setConvTiles({ wSplit: 5 });
      const dw = conv2dBackwardWeight(dy.t, x.t, c.w, o);
      expect(dw.dtype).toBe('float16');
      expect(relErr(await dw.toArray(), refDw), 'weight gradient, split-K').toBeLessThan(tol);
      for (const t of [x.t, w.t, dy.t, dw, ...outs]) t.dispose();
    });
  }
}

it('float16 matmul with paged operands and output (vec4 loads across pages), unsplit and split-K', async () => {
  const cfgs: (MatmulConfig | null)[] = [null, { ...gpuDefault, splitTarget: 0 } as MatmulConfig, { ...gpuDefault, splitTarget: 1e6 } as MatmulConfig];
  for (const cfg of cfgs) {
    setMatmulTiles(cfg);
    for (const [aShape, bShape, tB] of [
      [[70, 52], [52, 45], false],
      [[33, 300], [17, 300], true],
    ] as [number[], number[], boolean][]) {
      const a = half(aShape);
      const b = half(bShape);
      const out = matmul(a.t, b.t, { transB: tB });
      expect(out.dtype).toBe('float16');
      expect(relErr(await out.toArray(), matmulRef(a.a, aShape, b.a, bShape, false, tB).data), `${JSON.stringify(cfg)} ${aShape} ${bShape}`).toBeLessThan(tol);
      for (const t of [a.t, b.t, out]) t.dispose();
    }
  }
});
