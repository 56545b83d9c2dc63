// Exports of the conv op family.
export {
  conv2d, conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardBias, convGeometry, setConvTiles, getConvTiles,
  type Conv2dOptions, type ConvGeometry,
} from './conv.js';
