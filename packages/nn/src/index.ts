export {
  Parameter,
  noGrad,
  enableGrad,
  isGradEnabled,
  requiresGrad,
  backward,
  detach,
  clearTape,
  tapeLength,
  retainGrad,
  retainedGrad,
  withConstants,
  type Ctx,
  type Grads,
} from './autograd/tape.ts';
export { defineOp, type OpDef, type DiffOp } from './autograd/op.ts';
export { autocast, autocastDtype } from './autograd/autocast.ts';
export * as F from './functional.ts';
export { crossEntropy, binaryCrossEntropyWithLogits, focalLoss, type FocalOptions } from './losses.ts';
// Declared once, with the kernels they configure.
export type { Reduction, CrossEntropyOptions, BceWithLogitsOptions } from '@cxr/tensor';
export { Module, type StateDict, type LoadResult, type ForwardHook, type RemovableHandle } from './module.ts';
export { nameMatcher, globToRegExp } from './nameGlob.ts';
export { formatList } from './formatList.ts';
export { compareStateDicts, stateDictMismatchMessage, type StateDictComparison } from './stateDictCheck.ts';
export {
  Sequential,
  Linear,
  Conv2d,
  BatchNorm2d,
  ReLU,
  Identity,
  Flatten,
  MaxPool2d,
  AvgPool2d,
  AdaptiveAvgPool2d,
  Dropout,
  type Conv2dOptions,
  type InitOptions,
} from './layers/layers.ts';
export { kaimingUniform, kaimingNormal, normal, uniform, fans, gainOf, withoutInit, initSkipped, skipDraw } from './init.ts';
export {
  Optimizer,
  type ParamGroup,
  type ParamsArg,
  type OptimizerStateDict,
  type ParamState,
  type GroupOptions,
  type StepOptions,
  type StepRollback,
} from './optim/optimizer.ts';
export { SGD, type SGDOptions } from './optim/sgd.ts';
export { Adam, AdamW, type AdamOptions } from './optim/adam.ts';
export { clipGradNorm } from './optim/clip.ts';
export { GradScaler, type GradScalerOptions, type GradScalerState } from './optim/gradScaler.ts';
export { LRScheduler, StepLR, CosineAnnealingLR, LinearWarmup } from './optim/schedulers.ts';
export { gradCam, type GradCamOptions, type GradCamResult } from './explain/gradCam.ts';
