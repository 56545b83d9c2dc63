export { batchNorm2d, batchNorm2dBackward, setBatchNormChannelSums, setBatchNormSplitTarget, type BatchNorm2dOptions, type ChannelSums } from './batchnorm.ts';
