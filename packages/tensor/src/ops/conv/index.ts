// Exports of the conv op family.
export {
  conv2d, conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardBias, convGeometry, setConvTiles, getConvTiles, resetConvTiles,
  weightGradSplit, gemmWeightGradSplit, convUsesGemm,
  type Conv2dOptions, type ConvGeometry, type ConvTiles, type ConvGemmConfig,
} from './conv.js';
