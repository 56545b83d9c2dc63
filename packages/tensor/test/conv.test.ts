import { describe, expect, it } from 'vitest';
import {
  conv2d,
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  convShuffles,
  gpu,
  resetConvTiles,
  setConvTiles,
  tensor,
  type Tensor,
} from '../src/index.ts';
import { randomArray, relErr, sizeOf, useDevice } from './helpers.ts';
import { convCases, convOperands, convOptions, type ConvCase } from './reference/convCases.ts';
import { dot, refConv2d, refConv2dBackwardBias, refConv2dBackwardInput, refConv2dBackwardWeight, refGeom } from './reference/conv.ts';

useDevice();

const cases = convCases;
const opts = convOptions;

describe('conv2d vs float64 reference', () => {
  let seed = 1;
  for (const c of cases) {
    it(c.name, async () => {
      const g = refGeom(c.x, c.w, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups });
      const { xa, wa, ba, dya, x, w, b, dy } = convOperands(c, g, () => seed++);
      const y = conv2d(x, w, b, opts(c));
      expect(y.shape).toEqual([g.N, g.O, g.OH, g.OW]);
      const dx = conv2dBackwardInput(dy, w, c.x, opts(c));
      const dw = conv2dBackwardWeight(dy, x, c.w, opts(c));
      const db = conv2dBackwardBias(dy);
      const [yo, dxo, dwo, dbo] = await Promise.all([y.toArray(), dx.toArray(), dw.toArray(), db.toArray()]);
      expect(relErr(yo, refConv2d(xa, wa, ba, g))).toBeLessThan(1e-4);
      expect(relErr(dxo, refConv2dBackwardInput(dya, wa, g))).toBeLessThan(1e-4);
      expect(relErr(dwo, refConv2dBackwardWeight(dya, xa, g))).toBeLessThan(1e-4);
      expect(relErr(dbo, refConv2dBackwardBias(dya, g))).toBeLessThan(1e-4);
      // Adjoint identity on the GPU results (bias-free part): <conv(x,w), dy> = <x, dx> = <w, dw>.
      const yNoBias = ba ? Float64Array.from(yo, (v, i) => v - ba[Math.floor(i / (g.OH * g.OW)) % g.O]) : yo;
      const lhs = dot(yNoBias, dya);
      expect(Math.abs(dot(xa, dxo) - lhs)).toBeLessThan(1e-4 * (Math.abs(lhs) + Math.sqrt(yo.length)));
      expect(Math.abs(dot(wa, dwo) - lhs)).toBeLessThan(1e-4 * (Math.abs(lhs) + Math.sqrt(yo.length)));
      for (const t of [x, w, dy, y, dx, dw, db]) t.dispose();
      b?.dispose();
    });
  }
});

describe('conv2d errors', () => {
  it('rejects bad shapes naming the op and shapes', () => {
    const x = tensor(randomArray(2 * 3 * 5 * 5, 99), [2, 3, 5, 5]);
    const w = tensor(randomArray(4 * 2 * 3 * 3, 98), [4, 2, 3, 3]);
    const w3 = tensor(randomArray(4 * 3 * 3 * 3, 97), [4, 3, 3, 3]);
    const x3 = tensor(randomArray(3 * 5 * 5, 96), [3, 5, 5]);
    expect(() => conv2d(x, w)).toThrow(/conv2d: channel mismatch.*\[2, ?3, ?5, ?5\].*\[4, ?2, ?3, ?3\]/);
    expect(() => conv2d(x3, w3)).toThrow(/conv2d: input must be 4-D.*\[3, ?5, ?5\]/);
    expect(() => conv2d(x, w3, null, { groups: 2 })).toThrow(/conv2d: groups=2 does not divide the 3 input channels/);
    expect(() => conv2d(x, tensor(randomArray(4 * 3 * 7 * 7, 95), [4, 3, 7, 7]))).toThrow(/conv2d: output would be empty/);
    expect(() => conv2d(x, w3, tensor(randomArray(5, 94), [5]))).toThrow(/conv2d: bias must be \[4\]/);
    expect(() => conv2d(x, w3, null, { stride: 0 })).toThrow(/conv2d: stride must be/);
    const dy = tensor(randomArray(2 * 4 * 3 * 3, 93), [2, 4, 3, 3]);
    expect(() => conv2dBackwardInput(dy, w3, [2, 3, 6, 6], { padding: 1 })).toThrow(/conv2dBackwardInput: gradient must be \[2, ?4, ?6, ?6\]/);
    expect(() => conv2dBackwardWeight(dy, x, [4, 2, 3, 3])).toThrow(/conv2dBackwardWeight: channel mismatch/);
    expect(() => conv2dBackwardBias(x3)).toThrow(/conv2dBackwardBias: gradient must be 4-D/);
  });
});

describe('direct kernels: shared loads (subgroupShuffle) and plain loads', () => {
  // The shared-load kernels need wide channel counts (the weight gradient shuffles only when
  // there are >= 8 input-channel tiles): odd counts, output counts not a multiple of the 16-channel
  // tile, partial workgroups, strides, narrow maps whose tiles cross images, groups.
  const wide: ConvCase[] = [
    { name: '3x3 pad 1, 67→21, 9x11', x: [2, 67, 9, 11], w: [21, 67, 3, 3], padding: [1, 1], bias: true },
    // Rows a multiple of 4 wide and >= 8 outputs: vec4 source loads, borders on both sides.
    { name: 'vec4 rows: 3x3 pad 1, 64→20, 12x16', x: [2, 64, 12, 16], w: [20, 64, 3, 3], padding: [1, 1], bias: true },
    { name: 'vec4 rows: 3x3 stride 2 pad 1, 66→35, 16x16 (8-wide classes)', x: [1, 66, 16, 16], w: [35, 66, 3, 3], stride: [2, 2], padding: [1, 1] },
    { name: 'vec4 rows: 1x1, 64→16, 8x8', x: [2, 64, 8, 8], w: [16, 64, 1, 1] },
    { name: '1x1 stride 2, 64→17, 5x5', x: [3, 64, 5, 5], w: [17, 64, 1, 1], stride: [2, 2] },
    // 64 input channels (a multiple of 4): the weight gradient holds every kernel row (`wRowsAllTaps`, vec4 stores).
    { name: 'narrow 2x2 maps, 64→19, batch 5', x: [5, 64, 2, 2], w: [19, 64, 3, 3], padding: [1, 1] },
    // Taller than 4 output rows: the all-taps weight gradient walks its rows in a loop, padding loaded as zeros.
    { name: 'narrow 7x2 maps, 8→6, batch 2', x: [2, 8, 7, 2], w: [6, 8, 3, 3], padding: [1, 1] },
    { name: 'narrow 2x2 maps, groups 2, 32→16, 1x3 kernel', x: [3, 32, 2, 2], w: [16, 16, 1, 3], padding: [0, 1], groups: 2 },
    { name: 'narrow 2x1 maps, 5x5 pad 2', x: [2, 9, 2, 1], w: [11, 9, 5, 5], padding: [2, 2] },
    // Stride-2 weight gradient over whole rows: 4-wide source rows as vec4 loads, 3-wide as scalars.
    { name: 'narrow: 4x4 stride 2 pad 1, 72→24, batch 3', x: [3, 72, 4, 4], w: [24, 72, 3, 3], stride: [2, 2], padding: [1, 1] },
    { name: 'narrow: 3x3 stride 2 pad 1, 41→19, batch 3', x: [3, 41, 3, 3], w: [19, 41, 3, 3], stride: [2, 2], padding: [1, 1] },
    { name: '7x7 stride 2 pad 3, 3→20 (conv1)', x: [2, 3, 17, 13], w: [20, 3, 7, 7], stride: [2, 2], padding: [3, 3] },
    // Stride-1 maps at least 60 columns wide (a multiple of 4) take the wide register tiles
    // (`wideMaps`, 16 x 16): a map of 64, one of 68 (four tiles and 4 columns), partial channel tiles.
    { name: 'wide maps: 3x3 pad 1, 9→21, 3x64', x: [2, 9, 3, 64], w: [21, 9, 3, 3], padding: [1, 1], bias: true },
    { name: 'wide maps: 3x3 pad 1, 12→17, 2x68', x: [1, 12, 2, 68], w: [17, 12, 3, 3], padding: [1, 1] },
    // Below that width the 16 x 8 tiles, their taps chained: 28 columns in tiles of 7.
    { name: 'below wide maps: 3x3 pad 1, 9→21, 5x28', x: [2, 9, 5, 28], w: [21, 9, 3, 3], padding: [1, 1], bias: true },
    // Rows the default 8-pixel tile does not divide take the largest divisor from 8 down to 4
    // (`evenRows`): 14 wide in tiles of 7 (forward, input gradient; stride 2 onto 14), 10 in 5.
    { name: 'even rows: 3x3 pad 1, 20→18, 5x14', x: [2, 20, 5, 14], w: [18, 20, 3, 3], padding: [1, 1], bias: true },
    { name: 'even rows: 3x3 stride 2 pad 1, 20→18, 6x28', x: [2, 20, 6, 28], w: [18, 20, 3, 3], stride: [2, 2], padding: [1, 1] },
    { name: 'even rows: 3x3 pad 1, 9→12, 3x10', x: [1, 9, 3, 10], w: [12, 9, 3, 3], padding: [1, 1] },
    { name: 'groups 2, 128→32, 5x5', x: [1, 128, 5, 5], w: [32, 64, 3, 3], padding: [1, 1], groups: 2 },
    { name: 'groups 4, 64→64 (16 per group)', x: [2, 64, 6, 6], w: [64, 16, 3, 3], padding: [1, 1], groups: 4 },
    // Weight gradient, one kernel row per workgroup with a sliding window of source
    // columns (`wRowTaps`): no padding (OW < W), padding wider than the kernel's half (OW > W),
    // 5x5, a 1x3 kernel, channel counts that leave partial tiles, batches of 3. At least 32 input
    // channels: with fewer the per-tap kernel splits the rows instead (`weightGradSplit`).
    { name: 'row taps: 3x3 pad 0, 37→45, 7x9, batch 3', x: [3, 37, 7, 9], w: [45, 37, 3, 3] },
    { name: 'row taps: 3x3 pad 2, 40→9, 5x6', x: [1, 40, 5, 6], w: [9, 40, 3, 3], padding: [2, 2] },
    { name: 'row taps: 5x5 pad 2, 33→18, 6x10', x: [2, 33, 6, 10], w: [18, 33, 5, 5], padding: [2, 2] },
    { name: 'row taps: 1x3 pad (0, 1), 48→12, 5x8', x: [2, 48, 5, 8], w: [12, 48, 1, 3], padding: [0, 1] },
    // 32x32 planes are 4 KB apart: the row-tap weight gradient reads padded copies of x and dy.
    { name: 'row taps: 3x3 pad 1, 40→12, 32x32 (padded planes)', x: [2, 40, 32, 32], w: [12, 40, 3, 3], padding: [1, 1] },
    // Stride 2: the window advances two columns a step (one kept, two loaded for 3 taps).
    { name: 'row taps: 3x3 stride 2 pad 1, 40→21, 9x11, batch 3', x: [3, 40, 9, 11], w: [21, 40, 3, 3], stride: [2, 2], padding: [1, 1] },
    { name: 'row taps: 5x5 stride 2 pad 2, 36→10, 13x12', x: [2, 36, 13, 12], w: [10, 36, 5, 5], stride: [2, 2], padding: [2, 2] },
  ];
  let seed = 500;
  for (const c of wide) {
    it(c.name, async () => {
      const g = refGeom(c.x, c.w, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups });
      const { xa, wa, ba, dya, x, w, b, dy } = convOperands(c, g, () => seed++);
      const refs = [refConv2d(xa, wa, ba, g), refConv2dBackwardInput(dya, wa, g), refConv2dBackwardWeight(dya, xa, g)];
      let modes = 0;
      for (const shuffle of [false, true]) {
        // 'implicitGemm' is the other family; pin the direct kernels on every adapter.
        setConvTiles({ path: 'direct', shuffle });
        if (shuffle && !convShuffles()) continue; // no subgroups of >= 8 lanes on this adapter
        modes++;
        const outs = [conv2d(x, w, b, opts(c)), conv2dBackwardInput(dy, w, c.x, opts(c)), conv2dBackwardWeight(dy, x, c.w, opts(c))];
        const got = await Promise.all(outs.map((t) => t.toArray()));
        for (const [k, name] of ['forward', 'input gradient', 'weight gradient'].entries()) {
          expect(relErr(got[k], refs[k]), `${name}, shuffle=${shuffle}`).toBeLessThan(1e-4);
        }
        for (const t of outs) t.dispose();
      }
      resetConvTiles();
      // Lavapipe has subgroups of 8: there both kinds must have run.
      expect(modes).toBeGreaterThanOrEqual(gpu().isCpuAdapter ? 2 : 1);
      for (const t of [x, w, dy]) t.dispose();
      b?.dispose();
    });
  }
});

describe('stride-2 input gradient: wider tiles for residue classes with few taps', () => {
  // setConvTiles({ bwdFewTaps }): one-row tiles (16-px input), whole-row tiles (4-px), odd channel counts; and off.
  const strided: ConvCase[] = [
    { name: '3x3 stride 2 pad 1, 19→37, 16x16', x: [2, 19, 16, 16], w: [37, 19, 3, 3], stride: [2, 2], padding: [1, 1] },
    { name: '3x3 stride 2 pad 1, 40→21, 4x4, batch 3', x: [3, 40, 4, 4], w: [21, 40, 3, 3], stride: [2, 2], padding: [1, 1] },
    // Uneven residue classes (5 / 4 rows, 4 / 3 columns) and a partial 32-channel tile.
    { name: '3x3 stride 2 pad 1, 45→23, 9x7', x: [2, 45, 9, 7], w: [23, 45, 3, 3], stride: [2, 2], padding: [1, 1] },
  ];
  let seed = 600;
  for (const c of strided) {
    it(c.name, async () => {
      const g = refGeom(c.x, c.w, { stride: c.stride, padding: c.padding });
      const wa = randomArray(sizeOf(c.w), seed++);
      const dya = randomArray(g.N * g.O * g.OH * g.OW, seed++);
      const w = tensor(wa, c.w);
      const dy = tensor(dya, [g.N, g.O, g.OH, g.OW]);
      const ref = refConv2dBackwardInput(dya, wa, g);
      const results: Tensor[] = [];
      try {
        // undefined: the defaults (a list of rules; every class of a 3x3/2 conv on the few-tap tiles).
        const settings = [
          undefined,
          { TO: 16, TP: 4, maxB: 64 },
          { TO: 16, TP: 8, maxB: 64 },
          [
            { TO: 32, TP: 4, maxB: 3, maxTaps: 4 },
            { TO: 16, TP: 8, maxB: 64, maxTaps: 1 },
          ],
          null,
        ];
        for (const bwdFewTaps of settings) {
          resetConvTiles();
          setConvTiles(bwdFewTaps === undefined ? { path: 'direct' } : { path: 'direct', bwdFewTaps });
          const dx = conv2dBackwardInput(dy, w, c.x, opts(c));
          // Kept until the end: a disposed result's buffer, recycled, would already hold the answer.
          results.push(dx);
          expect(relErr(await dx.toArray(), ref), JSON.stringify(bwdFewTaps)).toBeLessThan(1e-4);
        }
      } finally {
        resetConvTiles();
        for (const t of results) t.dispose();
      }
      w.dispose();
      dy.dispose();
    });
  }
});

describe('row-tap weight gradient: output columns per loop iteration', () => {
  // setConvTiles({ wRowTaps: { cols } }): 1, 2 and 4 columns per iteration (4 is not a default;
  // it checks that the window generalises), on a 3x3 pad 1 map 12 wide, a 5x5 pad 2 map 8 wide
  // (window of 8 columns at 4) and a 3x3 pad 0 map whose 6-wide rows take 2 but not 4.
  const rows: ConvCase[] = [
    { name: '3x3 pad 1, 36→19, 5x12, batch 3', x: [3, 36, 5, 12], w: [19, 36, 3, 3], padding: [1, 1] },
    { name: '5x5 pad 2, 33→10, 6x8', x: [2, 33, 6, 8], w: [10, 33, 5, 5], padding: [2, 2] },
    { name: '3x3 pad 0, 40→9, 4x8', x: [2, 40, 4, 8], w: [9, 40, 3, 3] },
  ];
  let seed = 650;
  for (const c of rows) {
    it(c.name, async () => {
      const g = refGeom(c.x, c.w, { stride: c.stride, padding: c.padding });
      const xa = randomArray(sizeOf(c.x), seed++);
      const dya = randomArray(g.N * g.O * g.OH * g.OW, seed++);
      const x = tensor(xa, c.x);
      const dy = tensor(dya, [g.N, g.O, g.OH, g.OW]);
      const ref = refConv2dBackwardWeight(dya, xa, g);
      const results: Tensor[] = [];
      try {
        for (const cols of [1, 2, 4]) {
          resetConvTiles();
          setConvTiles({ path: 'direct', wRowTaps: { TO: 32, TR: 2, minOW: 3, maxStride: 2, cols, colsMinOW: 4 } });
          const dw = conv2dBackwardWeight(dy, x, c.w, opts(c));
          results.push(dw);
          expect(relErr(await dw.toArray(), ref), `cols ${cols}`).toBeLessThan(1e-4);
        }
      } finally {
        resetConvTiles();
        for (const t of results) t.dispose();
      }
      x.dispose();
      dy.dispose();
    });
  }
});

describe('few-channel weight gradient: tap lanes vs strided row subsets', () => {
  // Convs with <= wTaps input channels and >= 16 taps (>= 9 with shared loads) use lanes over taps; check the other path too.
  // Output rows a multiple of 4 wide: with shuffles, tap lanes step four columns with vec4 dy loads.
  const fourWide: ConvCase[] = [
    { name: '7x7 stride 2 pad 3, 3→37, 13x15 (OW 8, four columns per step)', x: [2, 3, 13, 15], w: [37, 3, 7, 7], stride: [2, 2], padding: [3, 3] },
    { name: '3x3 pad 1, 3→20, 5x12 (OW 12, four columns per step)', x: [2, 3, 5, 12], w: [20, 3, 3, 3], padding: [1, 1] },
  ];
  const few = [...cases.filter((c) => (c.groups ?? 1) === 1 && c.x[1] <= 4 && c.w[2] * c.w[3] >= 9), ...fourWide];
  it('covers at least two matrix cases', () => expect(few.length).toBeGreaterThanOrEqual(2));
  let seed = 300;
  for (const c of few) {
    it(c.name, async () => {
      const g = refGeom(c.x, c.w, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups });
      const xa = randomArray(sizeOf(c.x), seed++);
      const dya = randomArray(g.N * g.O * g.OH * g.OW, seed++);
      const x = tensor(xa, c.x);
      const dy = tensor(dya, [g.N, g.O, g.OH, g.OW]);
      const ref = refConv2dBackwardWeight(dya, xa, g);
      for (const t of [{ wTaps: 0 }, { wTaps: 4 }, { wTaps: 4, vec4: false }]) {
        resetConvTiles();
        setConvTiles(t);
        const dw = conv2dBackwardWeight(dy, x, c.w, opts(c));
        expect(relErr(await dw.toArray(), ref), JSON.stringify(t)).toBeLessThan(1e-4);
        dw.dispose();
      }
      resetConvTiles();
      x.dispose();
      dy.dispose();
    });
  }
});
