// @cxr/models in a browser: architectures, heads and weights from bytes; no Node built-in is loaded
// (index.ts, the Node entry, adds reading and writing files by path, conversion and downloads).
export * from './weights/hostTensor.ts';
export { WeightFormatError, type ByteSource, memorySource } from './weights/byteSource.ts';
export { readSafetensors, openSafetensors, writeSafetensors, type SafetensorsFile } from './weights/safetensors.ts';
export { readTorchCheckpoint, openTorchCheckpoint, detectTorchFormat, type TorchCheckpoint, type TorchCheckpointFormat } from './weights/torchCheckpoint.ts';
export { VGG, vgg, vggConfigs, type VggName, type VggOptions } from './arch/vgg.js';
export { ResNet, BasicBlock, Bottleneck, resnet, resnetConfigs, type ResNetName, type ResNetOptions } from './arch/resnet.js';
export { applyHead, parseHeadSpec, headName, type HeadSpec, type Classifier } from './heads.js';
export { architectures, knownArchs, type ArchInfo } from './architectures.js';
export { loadWeights, openWeights, toDevice, firstNonFinite, WeightMismatchError, NonFiniteWeightsError } from './load.js';
export { formatList } from './formatList.js';
export { createModel } from './registry.js';
export { defaultCamLayer } from './camLayer.js';
export { encodeModelInfo, decodeModelInfo, type ModelInfo } from './weights/modelMetadata.ts';
export { encodeDecisionRule, decodeDecisionRule, applyDecisionRule, applyTemperature, predictAt, positiveIndex, argmax, type DecisionRule } from './weights/decisionRule.ts';
