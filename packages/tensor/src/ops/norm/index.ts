export { batchNorm2d, batchNorm2dBackward, type BatchNorm2dOptions } from './batchnorm.js';
