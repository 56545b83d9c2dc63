/**
 * The pointwise kernels (1x1 convs, stride 1 or 2, no padding: pointwise.wgsl.ts) against float64
 * references: odd channel counts (partial channel tiles, scalar weight-gradient stores), grids
 * whose quads cross rows (OW 2 and 6) and images, partial workgroups, bias, reduced sizes (C in
 * the forward, O in the input gradient) that U divides or not; under the default tiles, two other
 * tile shapes (U 1 and 4), input-gradient weights as vec4s (C and the channel tile multiples of 4)
 * or scalars, and with the pointwise kernels off (the direct kernels).
 */
import { describe, expect, it } from 'vitest';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, convGeometry, full, gpu, memoryStats, resetConvTiles, setConvTiles, tensor } from '../src/index.ts';
import { pointwiseSteps, usesPointwise } from '../src/ops/conv/pointwise.ts';
import { activeConvTiles, type ConvTiles } from '../src/ops/conv/tiles.ts';
import { randomArray, relErr, useDevice } from './helpers.ts';
import { type ConvCase, convOperands } from './reference/convCases.ts';
import { refConv2d, refConv2dBackwardInput, refConv2dBackwardWeight, refGeom } from './reference/conv.ts';

useDevice();

const cases: ConvCase[] = [
  { name: '1x1 stride 2, 37→21, 8x12 (OW 6: quads cross rows), bias', x: [3, 37, 8, 12], w: [21, 37, 1, 1], stride: [2, 2], bias: true },
  { name: '1x1 stride 2, 40→24, 4x4 → 2x2, batch 5 (quads span two rows)', x: [5, 40, 4, 4], w: [24, 40, 1, 1], stride: [2, 2] },
  { name: '1x1 stride 2, 64→128, 16x16 (ResNet downsample)', x: [2, 64, 16, 16], w: [128, 64, 1, 1], stride: [2, 2] },
  { name: '1x1 stride 2, 21→30, 8x8 (odd C: forward one step per iteration, input gradient U)', x: [3, 21, 8, 8], w: [30, 21, 1, 1], stride: [2, 2] },
  { name: '1x1 stride 1, 19→33, 6x6, bias', x: [2, 19, 6, 6], w: [33, 19, 1, 1], bias: true },
  { name: '1x1 stride 1, 8→5, 2x2 (fewer channels than a tile)', x: [3, 8, 2, 2], w: [5, 8, 1, 1], bias: true },
];

const settings: [string, Partial<ConvTiles>][] = [
  ['default tiles', {}],
  // Input gradient: 6 channels per invocation load scalar weights, 16 (and the default 64) vec4s where C allows.
  ['TO 8 x TQ 3, input gradient 6, weight 24 x 3, U 1', { pointwise: { TO: 8, TQ: 3, bwdTO: 6, wTO: 24, wTC: 3, U: 1, wVec4: true } }],
  ['TO 16 x TQ 2, input gradient 16, weight 8 x 8, U 4', { pointwise: { TO: 16, TQ: 2, bwdTO: 16, wTO: 8, wTC: 8, U: 4, wVec4: true } }],
  ['TO 64 x TQ 1, input gradient 64 with scalar weights, weight 32 x 4, U 2', { pointwise: { TO: 64, TQ: 1, bwdTO: 64, wTO: 32, wTC: 4, U: 2, wVec4: false } }],
  ['pointwise off', { pointwise: null }],
];

describe('pointwise (1x1) conv kernels vs float64 reference', () => {
  let seed = 700;
  for (const c of cases) {
    it(c.name, async () => {
      const o = { stride: c.stride, padding: c.padding };
      const g = refGeom(c.x, c.w, o);
      const { xa, wa, ba, dya, x, w, b, dy } = convOperands(c, g, () => seed++);
      const refs = [refConv2d(xa, wa, ba, g), refConv2dBackwardInput(dya, wa, g), refConv2dBackwardWeight(dya, xa, g)];
      let pointwiseRuns = 0;
      try {
        for (const [name, s] of settings) {
          resetConvTiles();
          setConvTiles({ path: 'direct', ...s });
          if (usesPointwise(convGeometry('test', c.x, c.w, o), activeConvTiles())) pointwiseRuns++;
          const y = conv2d(x, w, b, o);
          // The stride-2 input gradient writes its zeros itself: hand it a pooled buffer full of NaN.
          full(c.x, Number.NaN).dispose();
          const outs = [y, conv2dBackwardInput(dy, w, c.x, o), conv2dBackwardWeight(dy, x, c.w, o)];
          const got = await Promise.all(outs.map((t) => t.toArray()));
          for (const [k, pass] of ['forward', 'input gradient', 'weight gradient'].entries()) {
            expect(relErr(got[k], refs[k]), `${pass}, ${name}`).toBeLessThan(1e-4);
          }
          for (const t of outs) t.dispose();
        }
      } finally {
        resetConvTiles();
      }
      // Where the defaults take the pointwise kernels (lavapipe), the other tile shapes do too.
      expect(pointwiseRuns).toBe(
        usesPointwise(convGeometry('test', c.x, c.w, o), activeConvTiles()) ? settings.filter(([, s]) => s.pointwise !== null).length : 0,
      );
      for (const t of [x, w, dy]) t.dispose();
      b?.dispose();
    });
  }

  it('sizes are uniforms: other shapes and batch sizes of a pass and stride compile nothing new', () => {
    resetConvTiles();
    const run = (n: number, c: number, o: number, h: number) => {
      const x = tensor(randomArray(n * c * h * h, 11), [n, c, h, h]);
      const w = tensor(randomArray(o * c, 12), [o, c, 1, 1]);
      const dy = tensor(randomArray(n * o * (h / 2) ** 2, 13), [n, o, h / 2, h / 2]);
      const outs = [conv2d(x, w, null, { stride: 2 }), conv2dBackwardInput(dy, w, x.shape, { stride: 2 }), conv2dBackwardWeight(dy, x, w.shape, { stride: 2 })];
      for (const t of [x, w, dy, ...outs]) t.dispose();
    };
    run(2, 24, 40, 8);
    const before = memoryStats().pipelines;
    run(3, 64, 128, 16);
    run(5, 40, 24, 4);
    // Only where these shapes take the pointwise kernels (elsewhere each shape has its own).
    if (usesPointwise(convGeometry('test', [3, 64, 16, 16], [128, 64, 1, 1], { stride: 2 }), activeConvTiles())) expect(memoryStats().pipelines).toBe(before);
  });

  it('unrolls the reduction by U only where U divides it', () => {
    // Past the last channel lavapipe's robust loads read zeros, so the results above would not
    // show a reduction that ran over; other adapters may clamp instead.
    const t = { ...activeConvTiles(), pointwise: { TO: 8, TQ: 1, bwdTO: 8, wTO: 8, wTC: 4, U: 2, wVec4: true } };
    expect([pointwiseSteps(64, t), pointwiseSteps(21, t), pointwiseSteps(30, t)]).toEqual([2, 1, 2]);
    t.pointwise.U = 4;
    expect([pointwiseSteps(64, t), pointwiseSteps(30, t), pointwiseSteps(1, t)]).toEqual([4, 1, 1]);
  });

  it('takes the pointwise kernels on this adapter where they apply, not for odd or padded shapes', () => {
    resetConvTiles();
    const on = (x: number[], w: number[], stride: number, padding = 0) => usesPointwise(convGeometry('test', x, w, { stride, padding }), activeConvTiles());
    expect(on([2, 13, 7, 9], [11, 13, 1, 1], 2)).toBe(false); // odd input: the 2x2 blocks do not tile it
    expect(on([2, 13, 8, 8], [11, 13, 1, 1], 2, 1)).toBe(false);
    expect(on([2, 13, 8, 8], [11, 13, 3, 3], 2, 1)).toBe(false);
    expect(on([2, 13, 7, 5], [11, 13, 1, 1], 1)).toBe(false); // 35 pixels: no whole quads
    // Lavapipe (subgroups of 8) runs them; adapters without shuffles keep the direct kernels.
    if (gpu().isCpuAdapter && gpu().device.features.has('subgroups')) expect(on([2, 64, 16, 16], [128, 64, 1, 1], 2)).toBe(true);
  });
});
