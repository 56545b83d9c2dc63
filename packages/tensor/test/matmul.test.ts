import { describe, expect, it } from 'vitest';
import { gpu, matmul, tensor, type Tensor } from '../src/index.ts';
import { cpuDefault, getMatmulTiles, gpuDefault, matmulCandidates, setMatmulTiles, type MatmulConfig } from '../src/ops/matmul/index.ts';
import { sharedSplitK } from '../src/ops/matmul/matmul.wgsl.ts';
import { randomArray, relErr, sizeOf, useDevice } from './helpers.ts';
import { matmulRef } from './reference/matmul.ts';

useDevice();

let seed = 100;
function operand(shape: number[]): { t: Tensor; data: Float32Array } {
  const data = randomArray(sizeOf(shape), seed++);
  return { t: tensor(data, shape), data };
}

/** Runs matmul on random operands of the given stored shapes and compares with float64. */
async function check(aShape: number[], bShape: number[], transA = false, transB = false): Promise<number> {
  const a = operand(aShape);
  const b = operand(bShape);
  const out = matmul(a.t, b.t, { transA, transB });
  const ref = matmulRef(a.data, aShape, b.data, bShape, transA, transB);
  expect(out.shape).toEqual(ref.shape);
  const got = await out.toArray();
  a.t.dispose();
  b.t.dispose();
  out.dispose();
  const e = relErr(got, ref.data);
  expect(e, `${aShape}${transA ? 'ᵀ' : ''} @ ${bShape}${transB ? 'ᵀ' : ''}`).toBeLessThan(1e-4);
  return e;
}

/** Stored shapes of A and B for logical [M,K] @ [K,N]. */
const stored = (M: number, K: number, N: number, tA: boolean, tB: boolean): [number[], number[]] => [tA ? [K, M] : [M, K], tB ? [N, K] : [K, N]];
const combos: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

describe('matmul 2-D', () => {
  const sizes: [number, number, number][] = [
    [1, 1, 1],
    [3, 5, 7],
    [17, 255, 3],
    [1, 1000, 17],
    [33, 100, 129],
    [1000, 8, 13],
    [7, 256, 1000],
  ];
  for (const [tA, tB] of combos) {
    it(`all sizes, transA=${tA} transB=${tB}`, async () => {
      for (const [M, K, N] of sizes) await check(...stored(M, K, N, tA, tB), tA, tB);
    });
  }
  it('K = 4096 with a wider output', async () => {
    await check([37, 4096], [4096, 61]);
    await check([37, 4096], [61, 4096], false, true);
  });
  it('a mid-size square that spans many tiles', async () => {
    await check([255, 255], [255, 255]);
    await check([256, 256], [256, 256], false, true);
    await check([257, 128], [257, 132], true, false);
  });
});

describe('matmul batched', () => {
  it('equal batch dims', async () => {
    for (const [tA, tB] of combos) {
      const [as, bs] = stored(9, 17, 13, tA, tB);
      await check([3, ...as], [3, ...bs], tA, tB);
    }
  });
  it('broadcasts batch dims (NumPy rules)', async () => {
    await check([2, 1, 7, 5], [4, 5, 6], false, false); // [2,1] x [4] -> [2,4]
    await check([5, 17], [3, 17, 4]); // 2-D A against a batch of B
    await check([3, 1, 9, 8], [1, 2, 11, 8], false, true); // [3,1] x [1,2] -> [3,2]
    await check([2, 1, 8, 9], [5, 8, 4], true, false);
    await check([1, 3, 6, 5], [2, 1, 3, 6], true, true);
  });
});

describe('matmul kernel variants', () => {
  it('every autotune candidate (CPU and GPU families) is correct on aligned and odd shapes', async () => {
    // This adapter's candidates plus the other family's default (compiles are slow on lavapipe).
    const cpu = gpu().isCpuAdapter;
    const cands: MatmulConfig[] = [...matmulCandidates(cpu), cpu ? gpuDefault : cpuDefault];
    const seen = new Set<string>();
    try {
      for (const c of cands) {
        const key = JSON.stringify(c);
        if (seen.has(key)) continue;
        seen.add(key);
        setMatmulTiles(c);
        await check(...stored(19, 36, 44, true, true), true, true);
        await check([2, 21, 37], [37, 45]);
      }
    } finally {
      setMatmulTiles(null);
    }
    expect(getMatmulTiles().kind).toBe(gpu().isCpuAdapter ? 'lanes' : 'shared');
  });
});

describe('matmul GPU shared tiles (forced on any adapter)', () => {
  const shared = matmulCandidates(false);
  it('offers blocked (vec4 workgroup reads) and prefetching candidates', () => {
    expect(shared.some((c) => c.kind === 'shared' && c.layout === 'blocked')).toBe(true);
    expect(shared.some((c) => c.kind === 'shared' && c.prefetch)).toBe(true);
  });
  it('every GPU candidate is correct for each transpose on odd shapes, batched and broadcast', async () => {
    try {
      // Every transpose (each has its own loader lanes) on one tile of each layout; the other
      // candidates (compiles are slow on lavapipe) on one transpose pair each, in turn.
      const firstBlocked = shared.findIndex((c) => c.kind === 'shared' && c.layout === 'blocked');
      for (const [i, c] of shared.entries()) {
        setMatmulTiles({ ...c, splitTarget: 0 } as MatmulConfig);
        for (const [tA, tB] of i === 0 || i === firstBlocked ? combos : [combos[i % 4]]) await check(...stored(37, 45, 131, tA, tB), tA, tB);
      }
      await check([3, 1, 9, 8], [1, 2, 11, 8], false, true);
    } finally {
      setMatmulTiles(null);
    }
  });
  it('split-K (few output tiles, long K) sums the partial products in order', async () => {
    try {
      const blocked = shared.find((x) => x.kind === 'shared' && x.layout === 'blocked')!;
      setMatmulTiles(gpuDefault);
      // The shapes of the ResNet-18 / VGG16 heads at small batch, scaled down, plus odd ones.
      await check([32, 512], [2, 512], false, true);
      await check([5, 1003], [1003, 7]);
      await check([300, 33], [300, 70], true, false);
      await check([2, 517, 19], [2, 3, 517], true, true);
      setMatmulTiles(blocked);
      await check([32, 512], [2, 512], false, true);
      // A split count forced through a huge target: the last chunk ends at K.
      const prefetch = shared.find((x) => x.kind === 'shared' && x.prefetch)!;
      for (const c of [gpuDefault, blocked, prefetch]) {
        setMatmulTiles({ ...c, splitTarget: 1e6 } as MatmulConfig);
        await check([3, 200], [200, 9]);
      }
    } finally {
      setMatmulTiles(null);
    }
  });
  it('plans split-K only for few output tiles against a long K', () => {
    const spec = (M: number, N: number, K: number) => ({
      M,
      N,
      K,
      transA: false,
      transB: true,
      batches: 1,
      batchDims: [],
      aBatchStrides: [],
      bBatchStrides: [],
    });
    const c = gpuDefault;
    expect(sharedSplitK(spec(32, 2, 512), c, 1024, 2 ** 26).S).toBe(8);
    const fc6 = sharedSplitK(spec(32, 4096, 25088), c, 1024, 2 ** 26);
    expect(fc6.S).toBe(16);
    expect(fc6.CK % c.tk).toBe(0);
    expect(fc6.CK * (fc6.S - 1)).toBeLessThan(25088);
    expect(sharedSplitK(spec(2048, 2048, 2048), c, 1024, 2 ** 26).S).toBe(1);
    expect(sharedSplitK(spec(32, 2, 40), c, 1024, 2 ** 26).S).toBe(1);
  });
});

describe('matmul errors', () => {
  it('names the op and the shapes', () => {
    const a = tensor(randomArray(12, 1), [3, 4]);
    const b = tensor(randomArray(15, 2), [5, 3]);
    const v = tensor(randomArray(4, 3), [4]);
    expect(() => matmul(a, b)).toThrow(/matmul.*\[3, ?4\].*\[5, ?3\]/);
    expect(() => matmul(a, v)).toThrow(/matmul.*\[4\]/);
    const c = tensor(randomArray(2 * 12, 4), [2, 3, 4]);
    const d = tensor(randomArray(3 * 20, 5), [3, 4, 5]);
    expect(() => matmul(c, d)).toThrow(/matmul.*\[2\].*\[3\]|matmul.*\[2, ?3, ?4\].*\[3, ?4, ?5\]/);
    const e = tensor(randomArray(20, 6), [4, 5]);
    e.dispose();
    expect(() => matmul(a, e)).toThrow(/matmul.*dispose/);
    a.dispose();
    b.dispose();
    v.dispose();
    c.dispose();
    d.dispose();
  });
});

describe('matmul small-M path', () => {
  it('M between 8 and 31 against a wide B (lanes along M)', async () => {
    await check([16, 300], [1100, 300], false, true);
    await check([9, 64], [64, 200]);
    await check([33, 20], [33, 97], true, false);
  });
});
