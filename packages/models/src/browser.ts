// @cxr/models in a browser: architectures, heads and weights from bytes; no Node built-in is loaded
// (index.ts, the Node entry, adds reading and writing files by path, conversion and downloads).
export * from './weights/hostTensor.ts';
export { WeightFormatError, type ByteSource, memorySource } from './weights/byteSource.ts';
export { readSafetensors, openSafetensors, writeSafetensors, type SafetensorsFile } from './weights/safetensors.ts';
export { readTorchCheckpoint, openTorchCheckpoint, detectTorchFormat, type TorchCheckpoint, type TorchCheckpointFormat } from './weights/torchCheckpoint.ts';
export { VGG, vgg, vggConfigs, type VggName, type VggOptions } from './arch/vgg.ts';
export { ResNet, BasicBlock, Bottleneck, resnet, resnetConfigs, type ResNetName, type ResNetOptions } from './arch/resnet.ts';
export { applyHead, parseHeadSpec, headName, type HeadSpec, type Classifier } from './heads.ts';
export { architectures, knownArchs, type ArchInfo } from './architectures.ts';
export { loadWeights, openWeights, toDevice, firstNonFinite, WeightMismatchError, NonFiniteWeightsError } from './load.ts';
export { createModel } from './registry.ts';
export { defaultCamLayer } from './camLayer.ts';
export { encodeModelInfo, decodeModelInfo, type ModelInfo } from './weights/modelMetadata.ts';
export * from './weights/decisionRule.ts';
