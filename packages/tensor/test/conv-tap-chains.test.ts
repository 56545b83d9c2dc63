// The direct gather kernels take several column taps per accumulator assignment (`chainTaps`,
// one nested fma chain in tap order), and the whole-row weight gradients several (column, tap)
// pairs (`wChain`). A chain adds the same products in the same order as one FMA per assignment,
// so forward, input gradient and weight gradient must agree bit for bit; float64 checks of the
// default (chained) kernels are in conv.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, convGeometry, getConvTiles, resetConvTiles, setConvTiles } from '../src/index.ts';
import { gatherConvWgsl } from '../src/ops/conv/conv.wgsl.ts';
import { forwardSpec } from '../src/ops/conv/conv.ts';
import { useDevice } from './helpers.ts';
import { refGeom } from './reference/conv.ts';
import { type ConvCase, convOperands, convOptions } from './reference/convCases.ts';

useDevice();
afterEach(() => resetConvTiles());

const cases: ConvCase[] = [
  // One-row tiles (16 x 8 with shuffles), a row the tile does not divide.
  { name: '3x3 pad 1 on 13x21', x: [2, 24, 13, 21], w: [20, 24, 3, 3], padding: [1, 1] },
  { name: '3x3 stride 2 pad 1 on 16x16 (ResNet downsampling)', x: [2, 16, 16, 16], w: [24, 16, 3, 3], stride: [2, 2], padding: [1, 1] },
  // Whole-row tiles on narrow maps: taps whose columns fall in the padding are dropped.
  { name: '3x3 pad 1 on 4x4', x: [3, 32, 4, 4], w: [16, 32, 3, 3], padding: [1, 1] },
  { name: '3x3 pad 1 on 2x2', x: [3, 32, 2, 2], w: [16, 32, 3, 3], padding: [1, 1] },
  // Whole-row weight gradients: stride 2 on 4-px rows, and a map too tall to unroll its rows.
  { name: '3x3 stride 2 pad 1 on 4x4', x: [3, 16, 4, 4], w: [24, 16, 3, 3], stride: [2, 2], padding: [1, 1] },
  { name: '3x3 pad 1 on 9x2', x: [2, 16, 9, 2], w: [8, 16, 3, 3], padding: [1, 1] },
  // Few input channels (unrolled reduction, plain tiles): seven taps in one chain.
  { name: '7x7 stride 2 pad 3 over 3 channels (ResNet conv1)', x: [2, 3, 22, 22], w: [16, 3, 7, 7], stride: [2, 2], padding: [3, 3] },
  { name: '3x3 dilation 2 pad 2, groups 2', x: [2, 8, 11, 12], w: [12, 4, 3, 3], padding: [2, 2], dilation: [2, 2], groups: 2 },
];

async function bits(t: { toArray(): Promise<Float32Array | number[]> }): Promise<Uint32Array> {
  return new Uint32Array(Float32Array.from(await t.toArray()).buffer);
}

describe('conv2d direct kernels: taps chained per assignment', () => {
  it('are on by default, and the generated loop nests the FMAs of a 3x3 row', () => {
    expect(getConvTiles().chainTaps).not.toBeNull();
    expect(getConvTiles().wChain).toBeGreaterThan(1);
    const g = convGeometry('t', [2, 24, 13, 21], [20, 24, 3, 3], { padding: [1, 1] });
    const spec = { ...forwardSpec(g, false), TO: 16, TP: 8, WG: 8, shuffle: true, vec4: false };
    const chained = gatherConvWgsl({ ...spec, chain: 8 }).wgsl;
    const single = gatherConvWgsl(spec).wgsl;
    expect(chained).toMatch(/c0_0 = fma\(w0_2, \w+, fma\(w0_1, \w+, fma\(w0_0, \w+, c0_0\)\)\);/);
    expect(single).not.toMatch(/fma\([^;]*fma\(/);
  });

  let seed = 900;
  for (const c of cases) {
    it(`${c.name}: forward and both gradients equal one FMA per assignment bit for bit`, async () => {
      const o = convOptions(c);
      const { x, w, dy } = convOperands(c, refGeom(c.x, c.w, c), () => seed++);
      const run = async () => {
        const y = conv2d(x, w, null, o);
        const dx = conv2dBackwardInput(dy, w, c.x, o);
        const dw = conv2dBackwardWeight(dy, x, c.w, o);
        const r = { y: await bits(y), dx: await bits(dx), dw: await bits(dw) };
        for (const t of [y, dx, dw]) t.dispose();
        return r;
      };
      const chained = await run();
      setConvTiles({ chainTaps: null, wChain: 1 });
      const single = await run();
      expect(chained.y).toEqual(single.y);
      expect(chained.dx).toEqual(single.dx);
      expect(chained.dw).toEqual(single.dw);
      for (const t of [x, w, dy]) t.dispose();
    });
  }
});
