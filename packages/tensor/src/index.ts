// @cxr/tensor in any environment (the browser entry); node.ts adds Dawn, the disk cache and cacheDir.
export { getDevice, destroyDevice, gpu, hasDevice, Gpu, type DeviceOptions } from './device/device.js';
export { Tensor } from './tensor.js';
export type { DType } from './dtype.js';
export { type Shape, type IntPair, broadcastShapes, sizeOf, stridesOf } from './shape.js';
export { scope, scopeAsync, keep } from './memory/scope.js';
export { memoryStats, type MemoryStats } from './memory/stats.js';
export { runKernel, grid1d, linearMain, type KernelCall } from './kernel/run.js';
export { tensor, full, zeros, ones, zerosLike, onesLike, arange, type NestedArray } from './ops/creation/creation.js';
export { rand, randn, randint, manualSeed, Generator, defaultGenerator, type RandomOptions } from './ops/random/random.js';
export { elementwise, type Operand } from './ops/elementwise/elementwise.js';
export * from './ops/elementwise/unary.js';
export * from './ops/elementwise/binary.js';
export { cast } from './ops/elementwise/cast.js';
export { sum, mean, max, min, argmax, argmin, variance, type Axes } from './ops/reduce/reduce.js';
export { softmax, logSoftmax } from './ops/reduce/softmax.js';
export * from './ops/matmul/index.js';
export {
  reshape, flatten, permute, transpose, contiguous, expand, slice, concat, stack, pad, indexSelect, gather, oneHot,
  squeeze, unsqueeze, type SliceRange,
} from './ops/layout/layout.js';

import { gpu } from './device/device.js';
/** Waits until every recorded op has run (and surfaces any WebGPU error). */
export const sync = () => gpu().batcher.sync('sync');
export * from './ops/conv/index.js';
export * from './ops/pool/index.js';
export * from './ops/norm/index.js';
export * from './ops/loss/index.js';
export * from './ops/dropout/index.js';
export * from './ops/grad/index.js';
export { interpolateBilinear } from './ops/resize/interpolate.js';
export { copyInto, increment } from './ops/inplace/inplace.js';
export { sgdStep, adamStep, type SgdStepOptions, type AdamStepOptions } from './ops/optim/optim.js';
