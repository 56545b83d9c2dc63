export { crossEntropy, crossEntropyBackward, type CrossEntropyOptions, type Reduction } from './crossentropy.ts';
export { binaryCrossEntropyWithLogits, binaryCrossEntropyWithLogitsBackward, type BceWithLogitsOptions } from './bce.ts';
