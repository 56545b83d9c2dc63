// @cxr/tensor in any environment (the browser entry); node.ts adds Dawn, the disk cache and cacheDir.
export { getDevice, destroyDevice, gpu, hasDevice, Gpu, type DeviceOptions } from './device/device.ts';
export { Tensor } from './tensor.ts';
export { readTensors, mapTensors, type HostValues, type MappedTensors } from './readTensors.ts';
export { writeTensor, type FillBytes } from './writeTensor.ts';
export type { DType } from './dtype.ts';
export { roundToHalf, float16ToFloat32, float32ToFloat16, float32ToFloat16Bits } from './float16.ts';
export { type Shape, type IntPair, broadcastShapes, sizeOf, stridesOf } from './shape.ts';
export { scope, scopeAsync, keep } from './memory/scope.ts';
export { memoryStats, type MemoryStats } from './memory/stats.ts';
export { runKernel, grid1d, linearMain, pageRanges, type KernelCall, type TensorRange } from './kernel/run.ts';
export { tensor, full, zeros, ones, zerosLike, onesLike, arange, type NestedArray } from './ops/creation/creation.ts';
export { rand, randn, randint, manualSeed, Generator, defaultGenerator, type RandomOptions } from './ops/random/random.ts';
export { elementwise, type Operand } from './ops/elementwise/elementwise.ts';
export * from './ops/elementwise/unary.ts';
export * from './ops/elementwise/binary.ts';
export { cast } from './ops/elementwise/cast.ts';
export { sum, mean, max, min, argmax, argmin, variance, type Axes } from './ops/reduce/reduce.ts';
export { softmax, logSoftmax } from './ops/reduce/softmax.ts';
export * from './ops/matmul/index.ts';
export {
  reshape,
  flatten,
  permute,
  transpose,
  contiguous,
  expand,
  slice,
  concat,
  stack,
  pad,
  indexSelect,
  gather,
  oneHot,
  squeeze,
  unsqueeze,
  type SliceRange,
} from './ops/layout/layout.ts';

import { gpu } from './device/device.ts';
/** Waits until every recorded op has run (and surfaces any WebGPU error). */
export const sync = () => gpu().batcher.sync('sync');
export * from './ops/conv/index.ts';
export * from './ops/pool/index.ts';
export * from './ops/norm/index.ts';
export * from './ops/loss/index.ts';
export * from './ops/dropout/index.ts';
export * from './ops/grad/index.ts';
export { interpolateBilinear } from './ops/resize/interpolate.ts';
export { normalizeChannels } from './ops/normalize/normalizeChannels.ts';
export { copyInto, increment } from './ops/inplace/inplace.ts';
export { sgdStep, adamStep, lossScaleStepFits, type SgdStepOptions, type AdamStepOptions, type LossScaleStepOptions } from './ops/optim/optim.ts';
export { nonFiniteCheck, nonFiniteCheckAndUnscale } from './ops/optim/unscale.ts';
