// Exports of the conv op family.
export {
  conv2d, conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardBias, convGeometry, setConvTiles, getConvTiles, resetConvTiles,
  weightGradSplit,
  type Conv2dOptions, type ConvGeometry, type ConvTiles,
} from './conv.js';
