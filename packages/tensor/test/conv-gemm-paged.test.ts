// The implicit-GEMM (GPU-path) conv kernels, forced on the CPU adapter, with every tensor split
// into several storage-binding pages (a small maxBindingBytes), split-K partials included.
import { afterEach, expect, it } from 'vitest';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, resetConvTiles, setConvTiles, tensor } from '../src/index.ts';
import { randomArray, relErr, sizeOf, useDevice } from './helpers.ts';
import { refConv2d, refConv2dBackwardInput, refConv2dBackwardWeight, refGeom } from './reference/conv.ts';

useDevice({ maxBindingBytes: 8192 });
afterEach(() => resetConvTiles());

const small = { gemm: { tm: 3, tn: 2, wgM: 3, wgN: 2, tk: 4 }, wGemm: { tm: 2, tn: 3, wgM: 2, wgN: 3, tk: 4 }, gemmSmallBelow: 0 };
const cases: { x: [number, number, number, number]; w: [number, number, number, number]; s: number; p: number; tiles: object }[] = [
  { x: [2, 5, 13, 17], w: [7, 5, 3, 3], s: 2, p: 1, tiles: small },
  { x: [2, 3, 17, 13], w: [5, 3, 7, 7], s: 2, p: 3, tiles: small },
  { x: [3, 11, 9, 7], w: [9, 11, 3, 3], s: 1, p: 1, tiles: { gemmSmallBelow: 0 } },
];

for (const c of cases) {
  it(`GPU path, paged x${JSON.stringify(c.x)} w${JSON.stringify(c.w)} stride ${c.s} pad ${c.p}`, async () => {
    setConvTiles({ path: 'implicitGemm', ...c.tiles });
    const g = refGeom(c.x, c.w, { stride: [c.s, c.s], padding: [c.p, c.p] });
    const xa = randomArray(sizeOf(c.x), 21);
    const wa = randomArray(sizeOf(c.w), 22);
    const dya = randomArray(g.N * g.O * g.OH * g.OW, 23);
    const x = tensor(xa, c.x);
    const w = tensor(wa, c.w);
    const dy = tensor(dya, [g.N, g.O, g.OH, g.OW]);
    const o = { stride: c.s, padding: c.p };
    expect(relErr(await conv2d(x, w, null, o).toArray(), refConv2d(xa, wa, null, g))).toBeLessThan(1e-4);
    expect(relErr(await conv2dBackwardInput(dy, w, c.x, o).toArray(), refConv2dBackwardInput(dya, wa, g))).toBeLessThan(1e-4);
    // Split-K: the partials [S, O, C, KH, KW] span several pages too.
    setConvTiles({ wSplit: 5 });
    expect(relErr(await conv2dBackwardWeight(dy, x, c.w, o).toArray(), refConv2dBackwardWeight(dya, xa, g))).toBeLessThan(1e-4);
  });
}
