// The direct conv kernels, batch norm, same-shape elementwise ops and `full` take the batch size as
// a uniform: a training run's partial last batch and its evaluation batches must reuse the
// pipelines compiled for the first batch (on lavapipe each compile costs tens of milliseconds to
// seconds; they were most of the first epoch). The values at each batch size are checked by the
// conv case matrix and the batch-norm tests; this checks that no new pipeline appears.
import { describe, expect, it } from 'vitest';
import {
  add,
  batchNorm2d,
  batchNorm2dBackward,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  full,
  memoryStats,
  ones,
  relu,
  tensor,
  zeros,
} from '../src/index.ts';
import { randomArray, useDevice } from './helpers.ts';

useDevice();

function layerPasses(n: number): void {
  const x = tensor(randomArray(n * 8 * 12 * 12, n), [n, 8, 12, 12]);
  const w = tensor(randomArray(16 * 8 * 9, 2), [16, 8, 3, 3]);
  const w1 = tensor(randomArray(16 * 8, 3), [16, 8, 1, 1]);
  const narrow = tensor(randomArray(n * 16 * 2 * 2, 4), [n, 16, 2, 2]);
  const wn = tensor(randomArray(16 * 16 * 9, 5), [16, 16, 3, 3]);
  const first = tensor(randomArray(n * 3 * 16 * 16, 6), [n, 3, 16, 16]);
  const w7 = tensor(randomArray(8 * 3 * 49, 7), [8, 3, 7, 7]);
  const outs = [];
  let y0 = null as ReturnType<typeof conv2d> | null;
  for (const [input, weight, opts] of [
    [x, w, { padding: 1 }],
    [x, w, { padding: 1, stride: 2 }],
    [x, w1, { stride: 2 }],
    [narrow, wn, { padding: 1 }],
    [first, w7, { padding: 3, stride: 2 }],
  ] as const) {
    const y = conv2d(input, weight, null, opts);
    y0 ??= y;
    const dy = full(y.shape, 0.5);
    if (input !== first) outs.push(conv2dBackwardInput(dy, weight, input.shape, opts));
    outs.push(conv2dBackwardWeight(dy, input, weight.shape, opts), y, dy);
  }
  const y = y0!;
  const rm = zeros([16]);
  const rv = ones([16]);
  const bn = batchNorm2d(y, { weight: ones([16]), bias: zeros([16]), runningMean: rm, runningVar: rv, training: true, residual: y, relu: true });
  const g = batchNorm2dBackward(y, y, null, bn.saveMean, bn.saveInvstd, { reluOut: bn.out });
  const e = relu(add(g.dx, y));
  for (const t of [x, w, w1, narrow, wn, first, w7, ...outs, rm, rv, bn.out, bn.saveMean, bn.saveInvstd, g.dx, g.dweight, g.dbias, e]) t.dispose();
}

describe('kernels shared across batch sizes', () => {
  it('a second and third batch size compile no new conv, batch-norm, elementwise or fill pipeline', () => {
    layerPasses(4);
    const compiled = memoryStats().pipelines;
    layerPasses(3);
    layerPasses(1);
    expect(memoryStats().pipelines).toBe(compiled);
  });
});
