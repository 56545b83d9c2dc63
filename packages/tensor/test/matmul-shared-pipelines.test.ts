// The tiled matmul kernels read sizes from uniforms: the GPU tiles all of them (M, N, K, tile
// counts, split-K's chunk), the CPU tiles those that are no operand's row stride (a Linear layer's
// batch), so a Linear layer's last partial batch and its evaluation batches reuse the training
// step's kernels. On lavapipe every new pipeline costs a large fraction of a second of LLVM. This
// pins the sharing and checks every product that reuses a pipeline against the float64 reference.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { matmul, memoryStats, tensor } from '../src/index.ts';
import { cpuDefault, gpuDefault, setMatmulTiles } from '../src/ops/matmul/index.ts';
import { randomArray, relErr, sizeOf, useDevice } from './helpers.ts';
import { matmulRef } from './reference/matmul.ts';

useDevice();

let seed = 700;

/** [M, K] @ [N, K]ᵀ (a Linear layer's forward); returns the pipelines it compiled, after checking the result. */
async function product(aShape: number[], bShape: number[], transA: boolean, transB: boolean): Promise<number> {
  const ad = randomArray(sizeOf(aShape), seed++);
  const bd = randomArray(sizeOf(bShape), seed++);
  const a = tensor(ad, aShape);
  const b = tensor(bd, bShape);
  const before = memoryStats().pipelines;
  const out = matmul(a, b, { transA, transB });
  const compiled = memoryStats().pipelines - before;
  const ref = matmulRef(ad, aShape, bd, bShape, transA, transB);
  expect(relErr(await out.toArray(), ref.data), `${aShape} @ ${bShape}`).toBeLessThan(1e-4);
  for (const t of [a, b, out]) t.dispose();
  return compiled;
}

/** A Linear layer in → out at batch n: forward x·Wᵀ, input gradient dy·W, weight gradient dyᵀ·x. */
async function linearPasses(n: number, inF: number, outF: number): Promise<number[]> {
  return [
    await product([n, inF], [outF, inF], false, true),
    await product([n, outF], [outF, inF], false, false),
    await product([n, outF], [n, inF], true, false),
  ];
}

describe('matmul pipelines shared across sizes: CPU lanes tiles', () => {
  beforeEach(() => setMatmulTiles(cpuDefault));
  afterEach(() => setMatmulTiles(null));

  it("a Linear layer's other batch sizes reuse the forward and input-gradient kernels", async () => {
    expect((await linearPasses(16, 512, 132)).every((c) => c > 0)).toBe(true);
    // The last batch of an epoch (11 of 16): the batch is M in the forward and the input gradient,
    // a uniform there; in the weight gradient it is K, written in up to 32 (the loops unroll).
    expect(await linearPasses(11, 512, 132)).toEqual([0, 0, 1]);
    // Past 32 the weight gradient's K is a uniform too (48 chooses other lane tiles than 16, so
    // it compiles its own forward; 40 then shares all three).
    await linearPasses(48, 512, 132);
    expect(await linearPasses(40, 512, 132)).toEqual([0, 0, 0]);
  });

  it("a size that is no operand's row stride is a uniform; strides are written in", async () => {
    // Aᵀ·Bᵀ, a transpose pair no other test here uses: A's stride is M, Bᵀ's is K, N is free.
    expect(await product([37, 19], [45, 37], true, true)).toBe(1);
    expect(await product([37, 19], [7, 37], true, true)).toBe(0);
    expect(await product([101, 33], [7, 101], true, true)).toBe(1);
  });
});

describe('matmul pipelines shared across sizes: GPU shared tiles', () => {
  beforeEach(() => setMatmulTiles(gpuDefault));
  afterEach(() => setMatmulTiles(null));

  it("every size is a uniform: a Linear layer's batches and another layer share the kernels", async () => {
    expect((await linearPasses(16, 512, 132)).every((c) => c > 0)).toBe(true);
    expect(await linearPasses(11, 512, 132)).toEqual([0, 0, 0]);
    expect(await linearPasses(32, 512, 132)).toEqual([0, 0, 0]);
    expect(await linearPasses(16, 1024, 260)).toEqual([0, 0, 0]);
  });

  it('odd sizes of one transpose pair share one kernel', async () => {
    expect(await product([37, 19], [45, 37], true, true)).toBe(1);
    expect(await product([101, 33], [7, 101], true, true)).toBe(0);
    expect(await product([64, 64], [64, 64], true, true)).toBe(0);
  });
});
