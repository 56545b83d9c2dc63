// conv2d and its gradients with tensors split into several storage-binding pages (a small
// maxBindingBytes stands in for the >128 MiB activations of VGG16 at large batch).
import { expect, it } from 'vitest';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, resetConvTiles, setConvTiles, tensor } from '../src/index.ts';
import { randomArray, relErr, sizeOf, useDevice } from './helpers.ts';
import { refConv2d, refConv2dBackwardInput, refConv2dBackwardWeight, refGeom } from './reference/conv.ts';

useDevice({ maxBindingBytes: 8192 });

const cases: { x: [number, number, number, number]; w: [number, number, number, number]; s: number; p: number }[] = [
  { x: [2, 5, 13, 17], w: [7, 5, 3, 3], s: 2, p: 1 },
  { x: [2, 3, 17, 13], w: [5, 3, 7, 7], s: 2, p: 3 },
  { x: [3, 11, 9, 7], w: [9, 11, 3, 3], s: 1, p: 1 },
];

for (const c of cases) {
  it(`paged x${JSON.stringify(c.x)} w${JSON.stringify(c.w)} stride ${c.s} pad ${c.p}`, async () => {
    const g = refGeom(c.x, c.w, { stride: [c.s, c.s], padding: [c.p, c.p] });
    const xa = randomArray(sizeOf(c.x), 11);
    const wa = randomArray(sizeOf(c.w), 12);
    const dya = randomArray(g.N * g.O * g.OH * g.OW, 13);
    const x = tensor(xa, c.x);
    const w = tensor(wa, c.w);
    const dy = tensor(dya, [g.N, g.O, g.OH, g.OW]);
    const o = { stride: c.s, padding: c.p };
    expect(relErr(await conv2d(x, w, null, o).toArray(), refConv2d(xa, wa, null, g))).toBeLessThan(1e-4);
    expect(relErr(await conv2dBackwardInput(dy, w, c.x, o).toArray(), refConv2dBackwardInput(dya, wa, g))).toBeLessThan(1e-4);
    expect(relErr(await conv2dBackwardWeight(dy, x, c.w, o).toArray(), refConv2dBackwardWeight(dya, xa, g))).toBeLessThan(1e-4);
    // Split-K: the partials [S, O, C, KH, KW] span several pages too.
    setConvTiles({ wSplit: 7 });
    try {
      expect(relErr(await conv2dBackwardWeight(dy, x, c.w, o).toArray(), refConv2dBackwardWeight(dya, xa, g))).toBeLessThan(1e-4);
    } finally {
      resetConvTiles();
    }
  });
}
