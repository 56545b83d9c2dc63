export {
  sumToShape,
  softmaxBackward,
  logSoftmaxBackward,
  maxBackward,
  minBackward,
  indexSelectBackward,
  sumBackward,
  meanBackward,
  matmulBackward,
  matmulBackwardA,
  matmulBackwardB,
} from './grad.ts';
export {
  reluBackward,
  sigmoidBackward,
  tanhBackward,
  sqrtBackward,
  rsqrtBackward,
  squareBackward,
  absBackward,
  softplusBackward,
  powScalarBackward,
  clampBackward,
  divisorBackward,
} from './pointwise.ts';
export { permuteBackward, sliceBackward, padBackward, concatBackward } from './layout.ts';
