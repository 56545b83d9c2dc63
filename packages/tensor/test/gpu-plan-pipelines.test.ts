/**
 * On a GPU adapter batch norm splits its per-channel reductions across workgroups and the
 * matmul splits K, with plans that follow the batch size. On Dawn's null backend (a GPU adapter
 * as far as the code paths go: it compiles every shader and runs nothing) a partial last batch
 * and the evaluation batches must reuse the first batch's batch-norm and classifier-head
 * pipelines (the GPU-path conv kernels: conv-gemm-batch-pipelines.test.ts).
 */
import { describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { randomArray, useDevice } from './helpers.ts';

useDevice({ flags: ['backend=null'] });

/** ResNet-18's batch-norm layer shapes at 64 px and its head at batch n, training and eval. */
function passes(n: number): void {
  const ts: T.Tensor[] = [];
  const keep = <X extends T.Tensor>(t: X): X => {
    ts.push(t);
    return t;
  };
  for (const [C, S] of [
    [64, 32],
    [64, 16],
    [128, 8],
    [256, 4],
    [512, 2],
  ]) {
    const x = keep(T.tensor(randomArray(n * C * S * S, C + S), [n, C, S, S]));
    const [w, b, rm, rv] = [T.ones([C]), T.zeros([C]), T.zeros([C]), T.ones([C])].map(keep); // C % 4 == 0: one form of `full`
    const f = T.batchNorm2d(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: true, residual: x, relu: true });
    const g = T.batchNorm2dBackward(x, x, w, f.saveMean, f.saveInvstd, { reluOut: f.out });
    const e = T.batchNorm2d(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: false, relu: true });
    for (const t of [f.out, f.saveMean, f.saveInvstd, g.dx, g.dweight, g.dbias, e.out, e.saveMean, e.saveInvstd]) keep(t);
  }
  const feats = keep(T.tensor(randomArray(n * 512, n), [n, 512]));
  const weight = keep(T.tensor(randomArray(2 * 512, 1), [2, 512]));
  const dLogits = keep(T.tensor(randomArray(n * 2, n + 2), [n, 2]));
  keep(T.matmul(feats, weight, { transB: true }));
  keep(T.matmul(dLogits, feats, { transA: true }));
  keep(T.matmul(dLogits, weight));
  for (const t of ts) t.dispose();
}

describe('GPU plans shared across batch sizes (backend=null)', () => {
  it("batch norm's split reductions and the head's matmuls compile nothing new at batch 8, 4 and 1 after 16", () => {
    expect(T.gpu().isCpuAdapter).toBe(false);
    passes(16);
    const compiled = T.memoryStats().pipelines;
    passes(8);
    passes(4);
    passes(1);
    expect(T.memoryStats().pipelines).toBe(compiled);
  });
});
