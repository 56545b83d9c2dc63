// The direct gather kernels store four consecutive output columns as one vec4 where the
// destination allows (`vec4Store`: stride-1 placement, rows and tiles a multiple of 4 wide). The
// same accumulators reach the same places, so the forward and the input gradient must equal the
// scalar stores bit for bit; float64 checks of the default kernels are in conv.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { conv2d, conv2dBackwardInput, convGeometry, getConvTiles, resetConvTiles, setConvTiles } from '../src/index.ts';
import type { ConvTiles } from '../src/ops/conv/tiles.ts';
import { gatherConvWgsl } from '../src/ops/conv/conv.wgsl.ts';
import { forwardSpec } from '../src/ops/conv/conv.ts';
import { useDevice } from './helpers.ts';
import { refConv2d, refGeom } from './reference/conv.ts';
import { type ConvCase, convOperands, convOptions } from './reference/convCases.ts';

useDevice();
afterEach(() => resetConvTiles());

const cases: (ConvCase & { tiles?: Partial<ConvTiles> })[] = [
  // One-row tiles (16 x 8 with shuffles): three to a 24-px row; bias.
  { name: '3x3 pad 1 on 9x24, bias', x: [2, 24, 9, 24], w: [20, 24, 3, 3], padding: [1, 1], bias: true },
  // Three to a 20-px row, the last half empty (evenRows off; on, it would tile the row by 5).
  { name: '3x3 pad 1 on 7x20, tail tile', x: [2, 24, 7, 20], w: [20, 24, 3, 3], padding: [1, 1], tiles: { evenRows: false } },
  // Whole-row tiles: one 8-px row per tile, two 4-px rows per tile (spanning images, the batch
  // leaving the last tile half empty), a partial channel tile.
  { name: '3x3 pad 1 on 8x8', x: [2, 16, 8, 8], w: [24, 16, 3, 3], padding: [1, 1] },
  { name: '3x3 pad 1 on 3x4, batch 3, 13 outputs', x: [3, 16, 3, 4], w: [13, 16, 3, 3], padding: [1, 1], bias: true },
  // Stride 2 onto 8- and 4-px rows (the forward only; its input gradient is strided).
  { name: '3x3 stride 2 pad 1 on 16x16', x: [2, 16, 16, 16], w: [24, 16, 3, 3], stride: [2, 2], padding: [1, 1] },
  { name: '3x3 stride 2 pad 1 on 8x8', x: [2, 16, 8, 8], w: [24, 16, 3, 3], stride: [2, 2], padding: [1, 1] },
  // Every tap in the padding: a 1-px input, 4 output columns of zeros.
  { name: '1x1 pad 3 stride 2 on 1x1 (no tap reaches a pixel)', x: [1, 8, 1, 1], w: [16, 8, 1, 1], stride: [2, 2], padding: [3, 3] },
];

async function bits(t: { toArray(): Promise<Float32Array | number[]> }): Promise<Uint32Array> {
  return new Uint32Array(Float32Array.from(await t.toArray()).buffer);
}

describe('conv2d direct kernels: vec4 stores', () => {
  it('are on by default, and the generated store loop writes vec4s', () => {
    expect(getConvTiles().vec4Store).toBe(true);
    const g = convGeometry('t', [2, 24, 9, 20], [20, 24, 3, 3], { padding: [1, 1] });
    const spec = { ...forwardSpec(g, false), TO: 16, TP: 8, WG: 8, shuffle: true, vec4: true };
    expect(gatherConvWgsl({ ...spec, vec4Store: true }).wgsl).toMatch(
      /out_set4\(\(d \+ \(o0 \+ o\) \* u\.OHW \+ b0 \+ 4u\) \/ 4u, vec4<f32>\(v4, v5, v6, v7\)\)/,
    );
    expect(gatherConvWgsl({ ...spec, vec4Store: true }).wgsl).not.toMatch(/out_set\(/);
    expect(gatherConvWgsl(spec).wgsl).not.toMatch(/out_set4/);
    // A row that is not a multiple of 4 wide keeps scalar stores.
    const odd = convGeometry('t', [2, 24, 9, 18], [20, 24, 3, 3], { padding: [1, 1] });
    expect(gatherConvWgsl({ ...forwardSpec(odd, false), TO: 16, TP: 8, WG: 8, shuffle: true, vec4Store: true }).wgsl).not.toMatch(/out_set4/);
  });

  let seed = 1300;
  for (const c of cases) {
    const strided = (c.stride?.[0] ?? 1) > 1;
    it(`${c.name}: forward${strided ? '' : ' and input gradient'} equal the scalar stores bit for bit`, async () => {
      const o = convOptions(c);
      const g = refGeom(c.x, c.w, c);
      const { xa, wa, ba, x, w, b, dy } = convOperands(c, g, () => seed++);
      const run = async () => {
        const y = conv2d(x, w, b, o);
        const dx = strided ? null : conv2dBackwardInput(dy, w, c.x, o);
        const r = { y: await bits(y), dx: dx ? await bits(dx) : null };
        for (const t of [y, dx]) t?.dispose();
        return r;
      };
      if (c.tiles) setConvTiles(c.tiles);
      const vec4 = await run();
      setConvTiles({ ...c.tiles, vec4Store: false });
      const scalar = await run();
      expect(vec4.y).toEqual(scalar.y);
      expect(vec4.dx).toEqual(scalar.dx);
      // And not two equally wrong answers: the forward against the float64 reference.
      const ref = refConv2d(xa, wa, ba, g);
      const got = new Float32Array(vec4.y.buffer);
      let worst = 0;
      for (let k = 0; k < ref.length; k++) worst = Math.max(worst, Math.abs(got[k] - ref[k]) / (Math.abs(ref[k]) + 1));
      expect(worst).toBeLessThan(1e-5);
      for (const t of [x, w, b, dy]) t?.dispose();
    });
  }
});
