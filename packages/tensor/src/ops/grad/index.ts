export {
  reluBackward, sigmoidBackward, tanhBackward, sumToShape, softmaxBackward, logSoftmaxBackward, maxBackward, minBackward,
  indexSelectBackward, sumBackward, meanBackward, matmulBackward,
} from './grad.js';
