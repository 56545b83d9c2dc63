export { batchNorm2d, batchNorm2dBackward, setBatchNormSplitTarget, type BatchNorm2dOptions } from './batchnorm.ts';
