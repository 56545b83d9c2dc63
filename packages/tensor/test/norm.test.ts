import { describe, expect, it } from 'vitest';
import { batchNorm2d, batchNorm2dBackward, gpu, setBatchNormChannelSums, setBatchNormSplitTarget, tensor, type ChannelSums } from '../src/index.ts';
import { randomArray, relErr, useDevice } from './helpers.ts';
import { refBatchNorm, refBatchNormBackward } from './reference/norm.ts';

useDevice();

const cases: [string, number[], boolean][] = [
  ['13x17, 3 channels, affine', [2, 3, 13, 17], true],
  ['7x7, 5 channels, affine', [3, 5, 7, 7], true],
  ['1x1 spatial (after global pool), no affine', [5, 3, 1, 1], false],
  ['[N,C] input', [7, 5], true],
  // H*W % 4 == 0: the per-channel reductions load vec4s.
  ['4x6, 3 channels, affine (vec4 loads)', [3, 3, 4, 6], true],
  ['3x4, 5 channels, no affine (vec4 loads)', [2, 5, 3, 4], false],
  // More channels than one workgroup of lanes (8), not a multiple of it.
  ['3x5, 13 channels, affine', [2, 13, 3, 5], true],
  // Large N*H*W: with the split target forced (as on a GPU) the statistics and backward sums are
  // chunked partials merged in order (8 chunks, the last one shorter).
  ['45x47, 3 channels, split statistics', [4, 3, 45, 47], true],
  ['37x41, 2 channels, no affine, split statistics', [3, 2, 37, 41], false],
];

/**
 * The unsplit per-channel sums run both ways on any adapter: a lane per channel (the CPU
 * adapter's default) and a workgroup per channel with a fold (a GPU's). Split cases (null) use neither.
 */
const sumsFor = (name: string): (ChannelSums | null)[] => (name.includes('split') ? [null] : ['lanes', 'workgroups']);

describe('batchNorm2d', () => {
  for (const [name, shape, affine] of cases) {
    for (const training of [true, false])
      for (const sums of sumsFor(name)) {
        it(`${name}, ${training ? 'training' : 'eval'}${sums ? `, ${sums}` : ''}`, async () => {
          setBatchNormSplitTarget(name.includes('split') ? 1 << 30 : null);
          setBatchNormChannelSums(sums);
          const C = shape[1];
          const n = shape.reduce((a, b) => a * b);
          // an offset mean checks the two-pass variance
          const xs = randomArray(n, n + C, 2, 5);
          const ws = randomArray(C, 3, 0.5, 1.5);
          const bs = randomArray(C, 4, -1, 1);
          const rms = randomArray(C, 5, -0.5, 0.5);
          const rvs = randomArray(C, 6, 0.5, 2);
          const x = tensor(xs, shape);
          const weight = affine ? tensor(ws, [C]) : null;
          const bias = affine ? tensor(bs, [C]) : null;
          const runningMean = tensor(rms, [C]);
          const runningVar = tensor(rvs, [C]);
          let ref = refBatchNorm(xs, shape, affine ? ws : null, affine ? bs : null, rms, rvs, training);
          let res = batchNorm2d(x, { weight, bias, runningMean, runningVar, training });
          if (training) {
            // a second step must compound the running statistics, as PyTorch's module does
            res.out.dispose();
            res.saveMean.dispose();
            res.saveInvstd.dispose();
            ref = refBatchNorm(xs, shape, affine ? ws : null, affine ? bs : null, ref.runningMean, ref.runningVar, training);
            res = batchNorm2d(x, { weight, bias, runningMean, runningVar, training });
          }
          expect(relErr(await res.out.toArray(), ref.out)).toBeLessThan(1e-5);
          expect(relErr(await res.saveMean.toArray(), ref.mean)).toBeLessThan(1e-5);
          expect(relErr(await res.saveInvstd.toArray(), ref.invstd)).toBeLessThan(1e-5);
          expect(relErr(await runningMean.toArray(), ref.runningMean)).toBeLessThan(1e-6);
          expect(relErr(await runningVar.toArray(), ref.runningVar)).toBeLessThan(1e-5);

          const dys = randomArray(n, 17, -1, 1);
          const dy = tensor(dys, shape);
          const g = batchNorm2dBackward(dy, x, weight, res.saveMean, res.saveInvstd, { training });
          const rg = refBatchNormBackward(dys, xs, shape, affine ? ws : null, ref.mean, ref.invstd, training);
          expect(relErr(await g.dx.toArray(), rg.dx)).toBeLessThan(1e-4);
          expect(relErr(await g.dweight.toArray(), rg.dweight)).toBeLessThan(1e-4);
          expect(relErr(await g.dbias.toArray(), rg.dbias)).toBeLessThan(1e-5);
          for (const t of [x, weight, bias, runningMean, runningVar, res.out, res.saveMean, res.saveInvstd, dy, g.dx, g.dweight, g.dbias]) t?.dispose();
          setBatchNormSplitTarget(null);
          setBatchNormChannelSums(null);
        });
      }
  }
  // relu(bn(x) + residual) in the normalising pass; the backward folds the ReLU's mask into both
  // kernels (reluOut). vec4 (H*W % 4 == 0) and scalar layouts, with and without the residual.
  const fused: [string, number[], boolean, boolean][] = [
    ['4x6, 3 channels, residual + relu (vec4)', [3, 3, 4, 6], true, true],
    ['5x7, 4 channels, residual + relu (scalar)', [2, 4, 5, 7], true, true],
    ['2x2, 5 channels, relu only (vec4)', [4, 5, 2, 2], false, true],
    ['40x41, 3 channels, relu only, split statistics', [2, 3, 40, 41], false, true],
    ['4x4, 2 channels, residual only', [2, 2, 4, 4], true, false],
  ];
  for (const [name, shape, withResidual, relu] of fused) {
    for (const training of [true, false])
      for (const sums of sumsFor(name)) {
        it(`fused ${name}, ${training ? 'training' : 'eval'}${sums ? `, ${sums}` : ''}`, async () => {
          setBatchNormSplitTarget(name.includes('split') ? 1 << 30 : null);
          setBatchNormChannelSums(sums);
          const C = shape[1];
          const n = shape.reduce((a, b) => a * b);
          const xs = randomArray(n, 31 + n, -2, 2);
          const ws = randomArray(C, 32, 0.5, 1.5);
          const bs = randomArray(C, 33, -0.5, 0.5);
          const rs = randomArray(n, 34, -1, 1);
          const dys = randomArray(n, 35, -1, 1);
          const rms = randomArray(C, 36, -0.5, 0.5);
          const rvs = randomArray(C, 37, 0.5, 2);
          const x = tensor(xs, shape);
          const weight = tensor(ws, [C]);
          const bias = tensor(bs, [C]);
          const residual = withResidual ? tensor(rs, shape) : null;
          const runningMean = tensor(rms, [C]);
          const runningVar = tensor(rvs, [C]);
          const ref = refBatchNorm(xs, shape, ws, bs, rms, rvs, training);
          const refOut = Float64Array.from(ref.out, (v, i) => {
            const y = v + (withResidual ? rs[i] : 0);
            return relu ? Math.max(0, y) : y;
          });
          const res = batchNorm2d(x, { weight, bias, runningMean, runningVar, training, residual, relu });
          const out = await res.out.toArray();
          expect(relErr(out, refOut)).toBeLessThan(1e-5);
          if (relu) expect(out.some((v) => v === 0) && out.some((v) => v > 0)).toBe(true);
          const dy = tensor(dys, shape);
          const g = batchNorm2dBackward(dy, x, weight, res.saveMean, res.saveInvstd, { training, reluOut: relu ? res.out : null });
          const maskedDy = Float64Array.from(dys, (d, i) => (!relu || refOut[i] > 0 ? d : 0));
          const rg = refBatchNormBackward(maskedDy, xs, shape, ws, ref.mean, ref.invstd, training);
          expect(relErr(await g.dx.toArray(), rg.dx)).toBeLessThan(1e-4);
          expect(relErr(await g.dweight.toArray(), rg.dweight)).toBeLessThan(1e-4);
          expect(relErr(await g.dbias.toArray(), rg.dbias)).toBeLessThan(1e-5);
          for (const t of [x, weight, bias, residual, runningMean, runningVar, res.out, res.saveMean, res.saveInvstd, dy, g.dx, g.dweight, g.dbias])
            t?.dispose();
          setBatchNormSplitTarget(null);
          setBatchNormChannelSums(null);
        });
      }
  }
  it('with 8 storage buffers per stage (WebGPU default) the fused ReLU backward applies the mask in its own pass, same values', async () => {
    const shape = [2, 6, 4, 4];
    const n = 2 * 6 * 16;
    const x = tensor(randomArray(n, 41), shape);
    const weight = tensor(randomArray(6, 42, 0.5, 1.5), [6]);
    const bias = tensor(randomArray(6, 43), [6]);
    const runningMean = tensor(new Float32Array(6), [6]);
    const runningVar = tensor(new Float32Array(6).fill(1), [6]);
    const dy = tensor(randomArray(n, 44), shape);
    const res = batchNorm2d(x, { weight, bias, runningMean, runningVar, training: true, relu: true });
    const grads = () => batchNorm2dBackward(dy, x, weight, res.saveMean, res.saveInvstd, { reluOut: res.out });
    const fused = grads();
    expect(gpu().limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(9);
    const g = gpu();
    const real = g.device.limits;
    // The same device, reporting WebGPU's default of 8 storage buffers per stage.
    Object.defineProperty(g, 'limits', {
      configurable: true,
      get: () => new Proxy(real, { get: (t, k) => (k === 'maxStorageBuffersPerShaderStage' ? 8 : Reflect.get(t, k, t)) }),
    });
    let split: ReturnType<typeof grads>;
    try {
      split = grads();
    } finally {
      delete (g as unknown as Record<string, unknown>).limits;
    }
    expect(gpu().limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(9);
    for (const k of ['dx', 'dweight', 'dbias'] as const) expect(relErr(await split[k].toArray(), await fused[k].toArray()), k).toBeLessThan(1e-6);
    for (const t of [
      x,
      weight,
      bias,
      runningMean,
      runningVar,
      dy,
      res.out,
      res.saveMean,
      res.saveInvstd,
      fused.dx,
      fused.dweight,
      fused.dbias,
      split.dx,
      split.dweight,
      split.dbias,
    ])
      t.dispose();
  });
  it('counts training batches in numBatchesTracked (statistics pass, every reduction), not eval ones; same statistics as without', async () => {
    // 13 channels of 5x5 (two lanes' workgroups), then split partials on 40x41.
    for (const [shape, split] of [
      [[2, 13, 5, 5], false],
      [[2, 3, 40, 41], true],
    ] as const) {
      for (const sums of ['lanes', 'workgroups'] as const) {
        setBatchNormChannelSums(sums);
        setBatchNormSplitTarget(split ? 1 << 30 : null);
        const C = shape[1];
        const x = tensor(
          randomArray(
            shape.reduce((a: number, b) => a * b, 1),
            51,
            -1,
            2,
          ),
          [...shape],
        );
        const stats = () => ({ runningMean: tensor(new Float32Array(C), [C]), runningVar: tensor(new Float32Array(C).fill(1), [C]) });
        const counted = stats();
        const plain = stats();
        const n = tensor(new Int32Array([5]), [], 'int32');
        for (const training of [true, true, false, true]) {
          const a = batchNorm2d(x, { ...counted, training, numBatchesTracked: n });
          const b = batchNorm2d(x, { ...plain, training });
          expect(Array.from(await a.out.toArray())).toEqual(Array.from(await b.out.toArray()));
          for (const t of [a.out, a.saveMean, a.saveInvstd, b.out, b.saveMean, b.saveInvstd]) t.dispose();
        }
        expect(Array.from(await n.toArray()), `${shape} ${sums}`).toEqual([8]);
        expect(Array.from(await counted.runningVar.toArray())).toEqual(Array.from(await plain.runningVar.toArray()));
        for (const t of [x, n, counted.runningMean, counted.runningVar, plain.runningMean, plain.runningVar]) t.dispose();
      }
    }
    setBatchNormChannelSums(null);
    setBatchNormSplitTarget(null);
  });
  it('rejects a numBatchesTracked of more than one element', () => {
    const x = tensor(randomArray(2 * 3 * 4, 1), [2, 3, 2, 2]);
    const r = tensor(randomArray(3, 2, 0.5, 1), [3]);
    const two = tensor(new Int32Array(2), [2], 'int32');
    expect(() => batchNorm2d(x, { runningMean: r, runningVar: r, training: true, numBatchesTracked: two })).toThrow(
      /batchNorm2d: numBatchesTracked must be one int32 or float32 element, got int32 \[2\]/,
    );
    for (const t of [x, r, two]) t.dispose();
  });
  it('rejects a residual or reluOut of another shape, naming both', () => {
    const x = tensor(randomArray(2 * 3 * 4, 1), [2, 3, 2, 2]);
    const r = tensor(randomArray(3, 2, 0.5, 1), [3]);
    const wrong = tensor(randomArray(12, 3), [1, 3, 2, 2]);
    expect(() => batchNorm2d(x, { runningMean: r, runningVar: r, training: true, residual: wrong })).toThrow(
      /batchNorm2d: residual float32 \[1,3,2,2\] must match input \[2,3,2,2\]/,
    );
    expect(() => batchNorm2dBackward(x, x, null, r, r, { reluOut: wrong })).toThrow(
      /batchNorm2dBackward: reluOut float32 \[1,3,2,2\] must match input \[2,3,2,2\]/,
    );
    for (const t of [x, r, wrong]) t.dispose();
  });
  it('rejects mismatched parameters naming the op and shapes', () => {
    const x = tensor(randomArray(2 * 3 * 4, 1), [2, 3, 2, 2]);
    const rm = tensor(randomArray(4, 2), [4]);
    expect(() => batchNorm2d(x, { runningMean: rm, runningVar: rm, training: true })).toThrow(
      /batchNorm2d: runningMean must be float32 \[3\] for input \[2,3,2,2\]/,
    );
    const one = tensor(randomArray(3, 3), [1, 3, 1, 1]);
    const r3 = tensor(randomArray(3, 2), [3]);
    expect(() => batchNorm2d(one, { runningMean: r3, runningVar: r3, training: true })).toThrow(/more than 1 value per channel/);
    for (const t of [x, rm, one, r3]) t.dispose();
  });
});
