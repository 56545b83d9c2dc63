// The direct conv kernels, batch norm, elementwise ops, `full`, pooling, softmax, cross-entropy and
// reductions take the batch size as a uniform: a training run's partial last batch and its evaluation batches must reuse the
// pipelines compiled for the first batch (on lavapipe each compile costs tens of milliseconds to
// seconds; they were most of the first epoch). The values at each batch size are checked by the
// conv case matrix and the batch-norm tests; this checks that no new pipeline appears.
import { describe, expect, it } from 'vitest';
import {
  adamStep,
  adaptiveAvgPool2d,
  adaptiveAvgPool2dBackward,
  add,
  argmax,
  avgPool2d,
  avgPool2dBackward,
  batchNorm2d,
  batchNorm2dBackward,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  copyInto,
  crossEntropy,
  crossEntropyBackward,
  full,
  maxPool2d,
  matmul,
  maxPool2dBackward,
  memoryStats,
  ones,
  rand,
  randn,
  relu,
  setBatchNormSplitTarget,
  sgdStep,
  softmax,
  sum,
  type Tensor,
  tensor,
  zeros,
} from '../src/index.ts';
import { setMaxPool2dBackwardForm } from '../src/ops/pool/pool.ts';
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

/** A classifier head's passes at batch size n: pooling, bias add, softmax, loss, argmax, batch sum. */
function headPasses(n: number): void {
  const x = tensor(randomArray(n * 4 * 6 * 6, n + 10), [n, 4, 6, 6]);
  const pool = { kernelSize: 3, stride: 2, padding: 1 };
  const mp = maxPool2d(x, pool);
  // Both backward forms: scatter per plane (CPU adapters) and gather per element (GPUs).
  setMaxPool2dBackwardForm('scatter');
  const mpb = maxPool2dBackward(mp.out, mp.indices, x.shape, pool);
  setMaxPool2dBackwardForm('gather');
  const mpg = maxPool2dBackward(mp.out, mp.indices, x.shape, pool);
  setMaxPool2dBackwardForm('auto');
  const ap = avgPool2d(x, { kernelSize: 2 });
  const apb = avgPool2dBackward(ap, x.shape, { kernelSize: 2 });
  const gap = adaptiveAvgPool2d(x, 1);
  const gapb = adaptiveAvgPool2dBackward(gap, x.shape);
  const feats = tensor(randomArray(n * 3, n + 20), [n, 3]);
  const bias = tensor([0.1, -0.2, 0.3], [3]);
  const logits = add(feats, bias);
  const labels = tensor(
    Array.from({ length: n }, (_, i) => i % 3),
    [n],
    'int32',
  );
  const outs: Tensor[] = [
    x,
    mp.out,
    mp.indices,
    mpb,
    mpg,
    ap,
    apb,
    gap,
    gapb,
    feats,
    bias,
    logits,
    labels,
    softmax(logits, 1),
    crossEntropy(logits, labels),
    crossEntropyBackward(logits, labels),
    argmax(logits, 1),
    sum(logits, 0),
  ];
  for (const t of outs) t.dispose();
}

/** One optimizer step, a copy and two random draws for a parameter of `shape`. */
function parameterPasses(shape: number[]): void {
  const size = shape.reduce((a, b) => a * b, 1);
  const p = randn(shape);
  const g = rand(shape);
  const m = zeros(shape);
  const v = zeros(shape);
  const buf = zeros(shape);
  adamStep(p, g, m, v, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, decoupledWeightDecay: false, step: 1 });
  sgdStep(p, g, buf, { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true });
  copyInto(m, tensor(randomArray(size, size), shape));
  for (const t of [p, g, m, v, buf]) t.dispose();
}

describe('kernels shared across batch sizes and parameter sizes', () => {
  it('pooling, softmax, cross-entropy, argmax, a batch sum and a bias add compile nothing new for other batch sizes', () => {
    headPasses(4);
    const compiled = memoryStats().pipelines;
    headPasses(3);
    headPasses(1);
    expect(memoryStats().pipelines).toBe(compiled);
  });

  it('optimizer steps, copies and random draws compile once per layout, not once per parameter size', () => {
    // Sizes divisible by 4 take the vec4 forms of adamStep and of `full` (the zeros); the others
    // their scalar forms (two more pipelines).
    parameterPasses([8, 3, 3, 3]);
    const compiled = memoryStats().pipelines;
    parameterPasses([16, 8, 3, 3]);
    parameterPasses([64]);
    expect(memoryStats().pipelines).toBe(compiled);
    parameterPasses([7]);
    const odd = memoryStats().pipelines;
    expect(odd - compiled).toBe(2);
    parameterPasses([3, 5]);
    expect(memoryStats().pipelines).toBe(odd);
  });
});

describe('strided input gradients', () => {
  it('residue classes that no tap reaches compile no gather pipeline of their own', () => {
    const dy = tensor(randomArray(2 * 16 * 4 * 4, 30), [2, 16, 4, 4]);
    const w1 = tensor(randomArray(16 * 8, 31), [16, 8, 1, 1]);
    const w3 = tensor(randomArray(16 * 8 * 9, 32), [16, 8, 3, 3]);
    zeros([4]).dispose(); // the shared fill kernel (vec4 form: the input gradients below are multiples of 4)
    const before = memoryStats().pipelines;
    // 1x1 stride 2 on an odd input (the direct kernels; even inputs take the pointwise kernel,
    // which writes its own zeros): only class (0, 0) of the four has a tap, the others are zeros from the fill.
    conv2dBackwardInput(dy, w1, [2, 8, 7, 7], { stride: 2 }).dispose();
    expect(memoryStats().pipelines - before).toBe(1);
    // 3x3 stride 2 pad 1: every class has taps, one gather each; row taps and sizes are uniforms,
    // so the classes with one column tap share the 1x1's pipeline and those with two one more.
    const mid = memoryStats().pipelines;
    conv2dBackwardInput(dy, w3, [2, 8, 8, 8], { stride: 2, padding: 1 }).dispose();
    expect(memoryStats().pipelines - mid).toBe(1);
    for (const t of [dy, w1, w3]) t.dispose();
  });
});

/** Batch norm's passes on one layer shape: training forward (plain, fused), backward (fused), eval. */
function batchNormPasses(shape: [number, number, number, number], seed: number): void {
  const C = shape[1];
  const x = tensor(
    randomArray(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );
  const rm = zeros([C]);
  const rv = ones([C]);
  const w = ones([C]);
  const b = zeros([C]);
  const plain = batchNorm2d(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: true });
  const fused = batchNorm2d(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: true, residual: x, relu: true });
  const g = batchNorm2dBackward(x, x, w, fused.saveMean, fused.saveInvstd, { reluOut: fused.out });
  const gPlain = batchNorm2dBackward(x, x, w, plain.saveMean, plain.saveInvstd);
  const evalOut = batchNorm2d(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: false, relu: true });
  const outs = [x, rm, rv, w, b, g.dx, g.dweight, g.dbias, gPlain.dx, gPlain.dweight, gPlain.dbias];
  for (const r of [plain, fused, evalOut]) outs.push(r.out, r.saveMean, r.saveInvstd);
  for (const t of outs) t.dispose();
}

describe('kernels shared across layer shapes', () => {
  it("batch norm compiles each pass once for every channel count, map size and batch size (ResNet-18's five layer shapes)", () => {
    batchNormPasses([4, 8, 8, 8], 40);
    const compiled = memoryStats().pipelines;
    for (const [i, shape] of (
      [
        [4, 16, 4, 4],
        [3, 32, 2, 2],
        [2, 8, 16, 16],
        [1, 64, 6, 6],
      ] as [number, number, number, number][]
    ).entries())
      batchNormPasses(shape, 41 + i);
    expect(memoryStats().pipelines).toBe(compiled);
    // H·W not a multiple of 4 takes the scalar form: its own pipelines, then shared again.
    batchNormPasses([2, 8, 3, 3], 50);
    const scalar = memoryStats().pipelines;
    expect(scalar).toBeGreaterThan(compiled);
    batchNormPasses([3, 16, 7, 7], 51);
    expect(memoryStats().pipelines).toBe(scalar);
  });

  it("batch norm's split statistics (the GPU plan) compile once whatever the split count, shape or batch size", () => {
    try {
      setBatchNormSplitTarget(1 << 30);
      batchNormPasses([4, 8, 8, 8], 60);
      const compiled = memoryStats().pipelines;
      batchNormPasses([2, 16, 4, 4], 61);
      batchNormPasses([3, 4, 12, 12], 62);
      expect(memoryStats().pipelines).toBe(compiled);
    } finally {
      setBatchNormSplitTarget(null);
    }
  });

  it("a classifier head's small matmuls and their gradients compile one pipeline for every batch size", () => {
    const before = memoryStats().pipelines;
    for (const n of [16, 8, 4, 3]) {
      const feats = tensor(randomArray(n * 512, 70 + n), [n, 512]);
      const weight = tensor(randomArray(2 * 512, 71), [2, 512]);
      const logits = matmul(feats, weight, { transB: true });
      const dLogits = tensor(randomArray(n * 2, 72 + n), [n, 2]);
      const dWeight = matmul(dLogits, feats, { transA: true });
      const dFeats = matmul(dLogits, weight);
      for (const t of [feats, weight, logits, dLogits, dWeight, dFeats]) t.dispose();
    }
    // Forward, input gradient and weight gradient at four batch sizes: one small-matmul pipeline.
    expect(memoryStats().pipelines - before).toBe(1);
  });
});
