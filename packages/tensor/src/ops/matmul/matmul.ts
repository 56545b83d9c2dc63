import { bytesPerElement, type DType } from '../../dtype.ts';
import { gpu } from '../../device/device.ts';
import { broadcastShapes, fmt } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, runKernel, type TensorRange } from '../../kernel/run.ts';
import { promoteFloat } from '../elementwise/elementwise.ts';
import { sumPartialsWgsl } from '../conv/conv.wgsl.ts';
import { lanesGrid, lanesWgsl, outputBound, sharedBytes, sharedGrid, sharedSplitK, sharedWgsl, type MatmulSpec, type SharedConfig } from './matmul.wgsl.ts';
import { canShuffle, getMatmulTiles, matmulTilesForced } from './autotune.ts';
import { smallWgsl, smallWorkgroup } from './small.wgsl.ts';
import { concat, slice } from '../layout/layout.ts';
import type { LanesConfig } from './matmul.wgsl.ts';
import { memoWgsl } from '../../kernel/memo.ts';

// Generated once per spec (see memoWgsl): the lanes generator took ~0.1 ms a call on the host,
// more than lavapipe's ~15 µs per dispatch, and a new string per call missed runKernel's caches.
const cachedLanesWgsl = memoWgsl(lanesWgsl);
const cachedSharedWgsl = memoWgsl(sharedWgsl);
const cachedSumPartialsWgsl = memoWgsl(sumPartialsWgsl);

export type { MatmulConfig, LanesConfig, SharedConfig } from './matmul.wgsl.ts';

export interface MatmulOptions {
  /** Treat `a`'s last two dims as transposed ([.., K, M] stored), without copying. */
  transA?: boolean;
  /** Treat `b`'s last two dims as transposed ([.., N, K] stored), as a Linear weight [out, in]. */
  transB?: boolean;
  /**
   * The product's dtype. Default: float16 when both operands are, else float32. A Linear under
   * autocast asks for float16 from a float16 activation and its float32 weight.
   */
  dtype?: DType;
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
 * either operand optionally transposed (read in place, never copied).
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const desc = () => `${fmt(a.shape)}${options.transA ? 'ᵀ' : ''} @ ${fmt(b.shape)}${options.transB ? 'ᵀ' : ''}`;
  if (a.isDisposed || b.isDisposed) throw new Error(`matmul: operand ${a.isDisposed ? 'a' : 'b'} of ${desc()} was used after dispose()`);
  if (a.rank < 2 || b.rank < 2) throw new Error(`matmul: operands need at least 2 dimensions, got ${desc()}`);
  if (a.dtype === 'int32' || b.dtype === 'int32') throw new Error(`matmul: expects float32 or float16 operands, got ${a.dtype} and ${b.dtype} (${desc()})`);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const M = options.transA ? ac : ar;
  const K = options.transA ? ar : ac;
  const Kb = options.transB ? bc : br;
  const N = options.transB ? br : bc;
  if (K !== Kb) throw new Error(`matmul: inner dimensions differ (${K} vs ${Kb}) in ${desc()}`);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  let outBatch: number[];
  try {
    outBatch = broadcastShapes('matmul', aBatch, bBatch);
  } catch {
    throw new Error(`matmul: batch dims ${fmt(aBatch)} and ${fmt(bBatch)} cannot be broadcast in ${desc()}`);
  }
  const batches = outBatch.reduce((p, d) => p * d, 1);
  // Accumulated in f32 whatever the operands' and the product's dtypes.
  const out = Tensor.empty([...outBatch, M, N], options.dtype ?? promoteFloat([a, b]), 'matmul');
  if (out.size === 0) return out;
  if (K === 0) throw new Error(`matmul: empty inner dimension in ${desc()}`);
  const spec: MatmulSpec = {
    M,
    N,
    K,
    transA: !!options.transA,
    transB: !!options.transB,
    batches,
    batchDims: outBatch,
    aBatchStrides: batchStrides(aBatch, outBatch, M * K),
    bBatchStrides: batchStrides(bBatch, outBatch, K * N),
  };
  if (isSmall(spec) && !matmulTilesForced()) {
    runSmall(a, b, out, spec);
    return out;
  }
  let c = getMatmulTiles();
  if (c.kind === 'lanes' && c.uLoad === 'shuffle' && !canShuffle(gpu(), c.lanes)) c = { ...c, uLoad: 'uniform' };
  // Small M against a wide B (a Linear layer at small batch, e.g. VGG fc6: 16 x 25088 x 4096):
  // lanes along M, so the big B streams once through the cheap shared loads instead of being read
  // per lane once per 8-row tile. Measured on lavapipe at fc6: 6.8 → 10 GFLOP/s.
  if (c.kind === 'lanes' && c.laneAxis === 'auto' && M >= c.lanes && M < c.lanes * c.tv && N >= 4 * M) {
    c = { ...c, laneAxis: 'M', tv: Math.ceil(M / c.lanes) };
  }
  // Output-bound products (lanes along N, see resolveLaneAxis): two vec4 stores per lane and row
  // (fc6's weight gradient on lavapipe: 186 -> 159 ms with 8 columns per lane against 4).
  if (c.kind === 'lanes' && c.laneAxis === 'auto' && outputBound(spec)) c = { ...c, tv: Math.max(c.tv, 8) };
  if (c.kind === 'lanes') {
    const byPages = lanesByPages(a, b, out, spec, c);
    if (byPages) return byPages;
    const k = cachedLanesWgsl(spec, c);
    runKernel({ name: 'matmul', body: k.wgsl, uniforms: k.uniforms, inputs: { a, b }, outputs: { out }, workgroups: lanesGrid(spec, c) });
    return out;
  }
  runShared(a, b, out, spec, c);
  return out;
}

/**
 * Rows of `rowLength` elements per chunk such that a chunk fits one binding page and every chunk
 * starts on the storage-offset alignment; 0 where the rows fit one page anyway, or no chunk does.
 */
function pageRows(rows: number, rowLength: number, dtype: DType): number {
  const g = gpu();
  if (rows * rowLength <= g.pageElements) return 0;
  const align = g.limits.minStorageBufferOffsetAlignment / bytesPerElement[dtype];
  let d = align;
  for (let r = rowLength % d; r !== 0; [d, r] = [r, d % r]);
  const step = align / d;
  return Math.floor(Math.floor(g.pageElements / rowLength) / step) * step;
}

/**
 * The `lanes` kernel on products whose large tensor spans several binding pages, in chunks that
 * each fit one page, so the accessors need no page switch (see TensorRange; on lavapipe the switch
 * made VGG16 fc6's forward 65 % slower per output row, its weight gradient 30 %): a Linear layer's
 * forward (x·Wᵀ, W's rows in chunks, the outputs' column blocks concatenated) and its weight
 * gradient (dyᵀ·x, the output's rows in chunks, each written through a range of it). Each output
 * sums the same products in the same order as unsplit. Null where neither applies; else the
 * product, and `out` is disposed where it was not the one written.
 */
function lanesByPages(a: Tensor, b: Tensor, out: Tensor, spec: MatmulSpec, c: LanesConfig): Tensor | null {
  if (spec.batches !== 1 || a.rank !== 2 || b.rank !== 2) return null;
  const { M, N, K, transA, transB } = spec;
  const run = (sub: MatmulSpec, inputs: Record<string, Tensor | TensorRange>, target: Tensor | TensorRange) => {
    const k = cachedLanesWgsl(sub, c);
    runKernel({ name: 'matmul', body: k.wgsl, uniforms: k.uniforms, inputs, outputs: { out: target }, workgroups: lanesGrid(sub, c) });
  };
  const wRows = transB ? pageRows(N, K, b.dtype) : 0;
  if (wRows > 0) {
    const parts: Tensor[] = [];
    try {
      for (let n0 = 0; n0 < N; n0 += wRows) {
        const rows = Math.min(wRows, N - n0);
        const part = Tensor.empty([M, rows], out.dtype, 'matmul');
        parts.push(part);
        run({ ...spec, N: rows }, { a, b: { tensor: b, offset: n0 * K, size: rows * K } }, part);
      }
      out.dispose();
      return concat(parts, 1);
    } finally {
      for (const p of parts) p.dispose();
    }
  }
  const outRows = a.size <= gpu().pageElements ? pageRows(M, N, out.dtype) : 0;
  if (outRows > 0) {
    for (let m0 = 0; m0 < M; m0 += outRows) {
      const rows = Math.min(outRows, M - m0);
      const aRows = slice(a, transA ? [null, { start: m0, end: m0 + rows }] : [{ start: m0, end: m0 + rows }]);
      try {
        run({ ...spec, M: rows }, { a: aRows, b }, { tensor: out, offset: m0 * N, size: rows * N });
      } finally {
        aRows.dispose();
      }
    }
    return out;
  }
  return null;
}

/**
 * Products small enough for the one-invocation-per-output kernel: at most 2^18 multiply-adds
 * (about a millisecond on lavapipe, where the tiled kernels would run a few microseconds but cost
 * 0.3–0.5 s each to compile, per shape), K at most 4096 (one invocation's serial loop), one matrix
 * (no batch dims to broadcast). Larger products keep the tuned tiles.
 */
export const smallMatmulMacs = 2 ** 18;

export function isSmall(s: MatmulSpec): boolean {
  return s.batches === 1 && s.K <= 4096 && s.M * s.N * s.K <= smallMatmulMacs;
}

function runSmall(a: Tensor, b: Tensor, out: Tensor, s: MatmulSpec): void {
  const u = (v: number): ['u32', number] => ['u32', v];
  runKernel({
    name: 'matmul.small',
    body: smallWgsl(),
    inputs: { a, b },
    outputs: { out },
    uniforms: {
      M: u(s.M),
      N: u(s.N),
      K: u(s.K),
      aM: u(s.transA ? 1 : s.K),
      aK: u(s.transA ? s.M : 1),
      bK: u(s.transB ? 1 : s.N),
      bN: u(s.transB ? s.K : 1),
    },
    workgroups: grid1d(s.M * s.N, smallWorkgroup),
  });
}

/** Partial products of a split-K matmul stay under this (and within one storage binding). */
const splitPartialBytes = 64 * 2 ** 20;

function runShared(a: Tensor, b: Tensor, out: Tensor, spec: MatmulSpec, config: SharedConfig): void {
  const g = gpu();
  let c = config;
  // Deeper tiles than the device's workgroup memory allows: halve the K tile until they fit.
  while (sharedBytes(spec, c) > g.limits.maxComputeWorkgroupStorageSize && c.tk > 1) c = { ...c, tk: Math.ceil(c.tk / 2) };
  const { S, CK } = sharedSplitK(spec, c, c.splitTarget ?? 1024, Math.min(splitPartialBytes, g.pageElements * 4));
  if (S === 1) {
    const k = cachedSharedWgsl(spec, c);
    runKernel({ name: 'matmul', body: k.wgsl, uniforms: k.uniforms, inputs: { a, b }, outputs: { out }, workgroups: sharedGrid(spec, c) });
    return;
  }
  // Split-K: S float32 partial products, summed in order (deterministic) into out, which alone rounds.
  const part = Tensor.empty([S, out.size], 'float32', 'matmul.splitK');
  try {
    const k = cachedSharedWgsl(spec, c, S, CK);
    runKernel({ name: 'matmul.splitK', body: k.wgsl, uniforms: k.uniforms, inputs: { a, b }, outputs: { out: part }, workgroups: sharedGrid(spec, c, S) });
    runKernel({
      name: 'matmul.sumSplits',
      body: cachedSumPartialsWgsl(256),
      inputs: { part },
      outputs: { out },
      uniforms: { S: ['u32', S], M: ['u32', out.size] },
      workgroups: grid1d(out.size, 256),
    });
  } finally {
    part.dispose();
  }
}
