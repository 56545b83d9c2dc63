// Weight-gradient split-K (contiguous row chunks into partials, then a summing pass) forced on
// the CPU adapter, on odd shapes, against the float64 reference.
import { afterEach, describe, expect, it } from 'vitest';
import { conv2dBackwardWeight, convGeometry, resetConvTiles, setConvTiles, tensor, weightGradSplit } from '../src/index.ts';
import { randomArray, relErr, sizeOf, useDevice } from './helpers.ts';
import { refConv2dBackwardWeight, refGeom } from './reference/conv.ts';
import type { ConvCase } from './reference/convCases.ts';

useDevice();
afterEach(() => resetConvTiles());

const cases: ConvCase[] = [
  { name: '3x3 pad 1, 13x17, 11→5', x: [3, 11, 13, 17], w: [5, 11, 3, 3], padding: [1, 1] },
  { name: '3x3 stride 2 pad 1, 13x17', x: [2, 5, 13, 17], w: [7, 5, 3, 3], stride: [2, 2], padding: [1, 1] },
  { name: '3x3 dilation 2 pad 2', x: [2, 5, 13, 17], w: [3, 5, 3, 3], dilation: [2, 2], padding: [2, 2] },
  { name: 'groups 3, 9→12', x: [2, 9, 7, 9], w: [12, 3, 3, 3], padding: [1, 1], groups: 3 },
  { name: 'depthwise 3x3 stride 2 pad 1', x: [2, 5, 13, 17], w: [5, 1, 3, 3], stride: [2, 2], padding: [1, 1], groups: 5 },
  { name: '7x7 stride 2 pad 3, RGB', x: [2, 3, 17, 13], w: [5, 3, 7, 7], stride: [2, 2], padding: [3, 3] },
  { name: '1x1 stride 2 odd input', x: [3, 13, 7, 9], w: [11, 13, 1, 1], stride: [2, 2] },
  { name: '5x5 stride 3 (taps skip rows), rectangular pad', x: [2, 3, 13, 17], w: [7, 3, 5, 5], stride: [3, 3], padding: [1, 2] },
];

describe('conv2dBackwardWeight split-K vs float64 reference', () => {
  let seed = 500;
  for (const c of cases) {
    it(c.name, async () => {
      const o = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
      const g = refGeom(c.x, c.w, o);
      const xa = randomArray(sizeOf(c.x), seed++);
      const dya = randomArray(g.N * g.O * g.OH * g.OW, seed++);
      const x = tensor(xa, c.x);
      const dy = tensor(dya, [g.N, g.O, g.OH, g.OW]);
      const ref = refConv2dBackwardWeight(dya, xa, g);
      const rows = g.N * g.OH;
      // Chunks of 1 row, of a few rows crossing image boundaries, of whole images, one chunk per split = all rows.
      for (const S of [2, 5, g.N, rows + 7]) {
        setConvTiles({ wSplit: S });
        const plan = weightGradSplit(convGeometry('t', c.x, c.w, o), true);
        expect(plan.S).toBeLessThanOrEqual(Math.min(S, rows));
        if (Math.min(S, rows) > 1) expect(plan.mode).toBe('chunked');
        const dw = conv2dBackwardWeight(dy, x, c.w, o);
        expect(relErr(await dw.toArray(), ref), `S=${S} (plan ${JSON.stringify(plan)})`).toBeLessThan(1e-4);
        dw.dispose();
      }
      x.dispose();
      dy.dispose();
    });
  }

  it('a GPU-like target picks chunks that fill the device and caps the partials', () => {
    const resnet = convGeometry('t', [8, 64, 56, 56], [64, 64, 3, 3], { padding: 1 });
    const vgg = convGeometry('t', [8, 128, 112, 112], [128, 128, 3, 3], { padding: 1 });
    for (const g of [resnet, vgg]) {
      const p = weightGradSplit(g, false);
      expect(p.mode).toBe('chunked');
      expect((8 * Math.ceil(g.O / 8) * 9 * p.S * (g.C / 8)) / 8).toBeGreaterThanOrEqual(60000);
      expect(p.S * g.O * g.C * 9 * 4).toBeLessThanOrEqual(64 * 2 ** 20);
      // CPU adapters keep the unsplit kernel.
      expect(weightGradSplit(g, true).S).toBe(1);
    }
    setConvTiles({ wPartialBytes: 1 << 20 });
    const p = weightGradSplit(resnet, false);
    expect(p.S * 64 * 64 * 9 * 4).toBeLessThanOrEqual(1 << 20);
    // No cap, no minimum chunk: S reaches one row per chunk.
    setConvTiles({ wTarget: 1e9, wPartialBytes: 1e12, wMinChunk: 1 });
    expect(weightGradSplit(resnet, false).S).toBe(8 * 56);
  });
});
