import { broadcastShapes, fmt } from '../../shape.js';
import { Tensor } from '../../tensor.js';
import { runKernel } from '../../kernel/run.js';
import { matmulWgsl, type MatmulSpec } from './matmul.wgsl.js';

export interface MatmulOptions {
  /** Treat `a`'s last two dims as transposed ([.., K, M] stored), without copying. */
  transA?: boolean;
  /** Treat `b`'s last two dims as transposed ([.., N, K] stored), as a Linear weight [out, in]. */
  transB?: boolean;
}

/** Tile shape per invocation and workgroup; a per-adapter choice (see `setMatmulTiles`). */
let tiles = { tileM: 4, tileN: 4, wgM: 8, wgN: 8 };

export function setMatmulTiles(t: Partial<typeof tiles>): void {
  tiles = { ...tiles, ...t };
}

export function getMatmulTiles(): typeof tiles {
  return { ...tiles };
}

function batchStrides(batch: readonly number[], outBatch: number[], matrixSize: number): number[] {
  const strides: number[] = new Array(outBatch.length).fill(0);
  let acc = matrixSize;
  for (let d = batch.length - 1; d >= 0; d--) {
    const o = outBatch.length - batch.length + d;
    strides[o] = batch[d] === 1 ? 0 : acc;
    acc *= batch[d];
  }
  return strides;
}

/**
 * Matrix product over the last two dims with NumPy broadcasting of the leading (batch) dims,
 * either operand optionally transposed.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  a.storage('matmul');
  b.storage('matmul');
  const desc = () => `${fmt(a.shape)}${options.transA ? 'ᵀ' : ''} @ ${fmt(b.shape)}${options.transB ? 'ᵀ' : ''}`;
  if (a.rank < 2 || b.rank < 2) throw new Error(`matmul: operands need at least 2 dimensions, got ${desc()}`);
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`matmul: expects float32 operands, got ${a.dtype} and ${b.dtype} (${desc()})`);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const M = options.transA ? ac : ar;
  const K = options.transA ? ar : ac;
  const Kb = options.transB ? bc : br;
  const N = options.transB ? br : bc;
  if (K !== Kb) throw new Error(`matmul: inner dimensions differ (${K} vs ${Kb}) in ${desc()}`);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const outBatch = broadcastShapes('matmul', aBatch, bBatch);
  const batches = outBatch.reduce((p, d) => p * d, 1);
  const out = Tensor.empty([...outBatch, M, N], 'float32', 'matmul');
  if (out.size === 0) return out;
  if (K === 0) throw new Error(`matmul: empty inner dimension in ${desc()}`);
  const spec: MatmulSpec = {
    M, N, K, transA: !!options.transA, transB: !!options.transB, batches, batchDims: outBatch,
    aBatchStrides: batchStrides(aBatch, outBatch, M * K), bBatchStrides: batchStrides(bBatch, outBatch, K * N), ...tiles,
  };
  runKernel({
    name: 'matmul',
    body: matmulWgsl(spec),
    inputs: { a, b },
    outputs: { out },
    workgroups: [Math.ceil(N / (spec.tileN * spec.wgN)), Math.ceil(M / (spec.tileM * spec.wgM)), batches],
  });
  return out;
}
