// The direct conv kernels take every size they only use as a bound or an address (batch,
// channels, map sizes, row taps) as a uniform, and an input gradient's column taps run in the
// forward's order: layers of one structure (kernel, stride, padding, tile) share their pipelines
// across channel counts and map sizes, and a stride-1 conv's input gradient shares its forward's.
// On lavapipe every pipeline costs ~0.3-0.8 s of LLVM at its first dispatch, most of the default
// job's first epoch. This pins the sharing and checks the shared pipelines' results against the
// float64 reference for every shape that reuses them.
import { afterEach, describe, expect, it } from 'vitest';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, gpu, memoryStats, resetConvTiles, setConvTiles, tensor } from '../src/index.ts';
import { randomArray, relErr, sizeOf, useDevice } from './helpers.ts';
import { refConv2d, refConv2dBackwardInput, refConv2dBackwardWeight, refGeom } from './reference/conv.ts';

useDevice();

type Layer = { x: number[]; w: number[]; stride?: number };

/** Runs the three passes of one layer; returns the pipelines each compiled, after checking the results. */
async function passes(c: Layer, seed: number): Promise<number[]> {
  const o = { padding: [Math.floor(c.w[2] / 2), Math.floor(c.w[3] / 2)] as [number, number], stride: c.stride ?? 1 };
  const g = refGeom(c.x, c.w, { padding: o.padding, stride: [o.stride, o.stride] });
  const xa = randomArray(sizeOf(c.x), seed);
  const wa = randomArray(sizeOf(c.w), seed + 1);
  const dya = randomArray(g.N * g.O * g.OH * g.OW, seed + 2);
  const x = tensor(xa, c.x);
  const w = tensor(wa, c.w);
  const dy = tensor(dya, [g.N, g.O, g.OH, g.OW]);
  const compiled: number[] = [];
  let before = memoryStats().pipelines;
  const outs = [];
  for (const run of [() => conv2d(x, w, null, o), () => conv2dBackwardInput(dy, w, c.x, o), () => conv2dBackwardWeight(dy, x, c.w, o)]) {
    outs.push(run());
    compiled.push(memoryStats().pipelines - before);
    before = memoryStats().pipelines;
  }
  const got = await Promise.all(outs.map((t) => t.toArray()));
  const refs = [refConv2d(xa, wa, null, g), refConv2dBackwardInput(dya, wa, g), refConv2dBackwardWeight(dya, xa, g)];
  for (const [k, name] of ['forward', 'input gradient', 'weight gradient'].entries()) {
    expect(relErr(got[k], refs[k]), `${name} of x ${c.x} w ${c.w}`).toBeLessThan(1e-4);
  }
  for (const t of [x, w, dy, ...outs]) t.dispose();
  return compiled;
}

describe('conv pipelines shared across layer shapes', () => {
  afterEach(() => resetConvTiles());

  it('3x3 stride-1 layers with other channel counts and batch sizes compile nothing new; the weight gradient shares across map sizes', async () => {
    setConvTiles({ path: 'direct' });
    const cpu = gpu().isCpuAdapter;
    // Output channels >= 32 throughout: the CPU adapter's weight-gradient tile is 32 output channels
    // (fewer channels make a smaller tile, and so another pipeline).
    const first = await passes({ x: [2, 32, 16, 16], w: [32, 32, 3, 3] }, 1);
    // The input gradient reuses the forward's pipeline (same column taps, ascending).
    expect(first[0]).toBeGreaterThan(0);
    expect(first[1]).toBe(0);
    const second = await passes({ x: [3, 48, 16, 16], w: [40, 48, 3, 3] }, 10);
    // The weight gradient's plan (no split) is the CPU adapter's; a GPU adapter splits per shape.
    expect(cpu ? second : second.slice(0, 2)).toEqual(cpu ? [0, 0, 0] : [0, 0]);
    // 8-px maps: one tile per row, columns written into the WGSL (a new gather pipeline, shared by
    // the input gradient); the weight gradient's loops take any map size.
    const third = await passes({ x: [2, 40, 8, 8], w: [32, 40, 3, 3] }, 20);
    expect(third[1]).toBe(0);
    if (cpu) expect(third[2]).toBe(0);
  });

  it('narrow 4-px maps (whole-row tiles) share across channel counts', async () => {
    setConvTiles({ path: 'direct' });
    const first = await passes({ x: [2, 32, 4, 4], w: [16, 32, 3, 3] }, 20);
    expect(first[1]).toBe(0);
    // Output channels >= 16, the forward's and input gradient's tile on the CPU adapter.
    const second = await passes({ x: [1, 40, 4, 4], w: [24, 40, 3, 3] }, 30);
    expect(second.slice(0, 2)).toEqual([0, 0]);
  });

  it('3x3 stride-2 layers: the four input-gradient classes compile two pipelines, the next layer none', async () => {
    setConvTiles({ path: 'direct' });
    const first = await passes({ x: [2, 32, 16, 16], w: [32, 32, 3, 3], stride: 2 }, 40);
    // Classes with one column tap share one pipeline, those with two another (row taps are uniforms).
    expect(first[1]).toBe(2);
    const second = await passes({ x: [1, 40, 16, 16], w: [48, 40, 3, 3], stride: 2 }, 50);
    expect(gpu().isCpuAdapter ? second : second.slice(0, 2)).toEqual(gpu().isCpuAdapter ? [0, 0, 0] : [0, 0]);
  });
});
