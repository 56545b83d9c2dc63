export * from './weights/index.ts';
export { VGG, vgg, vggConfigs, type VggName, type VggOptions } from './arch/vgg.js';
export { ResNet, BasicBlock, Bottleneck, resnet, resnetConfigs, type ResNetName, type ResNetOptions } from './arch/resnet.js';
export { torchvisionInit } from './arch/init.js';
export { applyHead, parseHeadSpec, headName, type HeadSpec, type Classifier } from './heads.js';
export { applyFreeze, freezePatterns, freezeBatchNormStats } from './freeze.js';
export { loadWeights, openWeights, toDevice } from './load.js';
export { createModel, architectures, minImageSize } from './registry.js';
