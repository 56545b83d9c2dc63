export { Parameter, noGrad, enableGrad, isGradEnabled, requiresGrad, backward, detach, clearTape, tapeLength, retainGrad, retainedGrad, type Ctx, type Grads } from './autograd/tape.js';
export { defineOp, type OpDef, type DiffOp } from './autograd/op.js';
export * as F from './functional.js';
export { crossEntropy, binaryCrossEntropyWithLogits, focalLoss, type FocalOptions } from './losses.js';
// Declared once, with the kernels they configure.
export type { Reduction, CrossEntropyOptions, BceWithLogitsOptions } from '@cxr/tensor';
export { Module, type StateDict, type LoadResult, type ForwardHook, type RemovableHandle } from './module.js';
export { nameMatcher, globToRegExp } from './nameGlob.js';
export {
  Sequential, Linear, Conv2d, BatchNorm2d, ReLU, Identity, Flatten, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout,
  type Conv2dOptions, type InitOptions,
} from './layers/layers.js';
export { kaimingUniform, kaimingNormal, normal, uniform, fans, gainOf } from './init.js';
export { Optimizer, type ParamGroup, type ParamsArg, type OptimizerStateDict, type ParamState, type GroupOptions } from './optim/optimizer.js';
export { SGD, type SGDOptions } from './optim/sgd.js';
export { Adam, AdamW, type AdamOptions } from './optim/adam.js';
export { clipGradNorm } from './optim/clip.js';
export { LRScheduler, StepLR, CosineAnnealingLR, LinearWarmup } from './optim/schedulers.js';
export { gradCam, type GradCamOptions, type GradCamResult } from './explain/gradCam.js';
