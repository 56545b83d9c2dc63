export { crossEntropy, crossEntropyBackward, type CrossEntropyOptions, type Reduction } from './crossentropy.js';
export { binaryCrossEntropyWithLogits, binaryCrossEntropyWithLogitsBackward, type BceWithLogitsOptions } from './bce.js';
