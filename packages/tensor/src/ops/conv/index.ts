// Exports of the conv op family.
export { conv2d, conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardBias, autotuneConv } from './conv.ts';
export { convTuning, resetConvTuning, convShapeKey, type ConvShapeChoice, type ConvTuneResult, type ConvTuneOptions } from './conv-gemm.ts';
export { convGeometry, type Conv2dOptions, type ConvGeometry } from './geometry.ts';
export {
  setConvTiles,
  getConvTiles,
  resetConvTiles,
  weightGradSplit,
  gemmWeightGradSplit,
  convUsesGemm,
  convShuffles,
  convKernelFamilies,
  type ConvTiles,
  type ConvKernelFamily,
} from './tiles.ts';
export type { ConvGemmConfig } from './conv-gemm.wgsl.ts';
