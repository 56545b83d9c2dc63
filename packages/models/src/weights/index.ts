// Weight-file readers and writers for @cxr/models: plain TypeScript over bytes, no GPU.
export * from './hostTensor.ts';
export { WeightFormatError, type ByteSource, memorySource } from './byteSource.ts';
// Node: also registers itself as the way openSource() reads a path (browser.ts leaves it out).
export { fileSource } from './fileSource.ts';
export { float16ToFloat32, bfloat16ToFloat32, float32ToFloat16, float32ToBfloat16 } from './half.ts';
export { unpickle, UnpicklingError, type UnpickleOptions } from './pickle.ts';
export { ForbiddenGlobalError, PyOrderedDict, type TensorRef, type StorageRef } from './torchPickle.ts';
export {
  readTorchCheckpoint,
  openTorchCheckpoint,
  detectTorchFormat,
  type TorchCheckpoint,
  type TorchCheckpointFormat,
} from './torchCheckpoint.ts';
export { readSafetensors, openSafetensors, writeSafetensors, type SafetensorsFile } from './safetensors.ts';
export { writeSafetensorsFile, writeSafetensorsFileAsync, tmpPathFor, type AsyncLazyTensor } from './safetensorsFile.ts';
export { convertCheckpoint, type ConvertResult } from './convert.ts';
export {
  pullWeights,
  pullVerifiedFile,
  officialWeights,
  expectedHashPrefix,
  sha256File,
  torchvisionBaseUrl,
  type PretrainedArch,
  type PullOptions,
} from './pull.ts';
export { encodeModelInfo, decodeModelInfo, readModelInfo, type ModelInfo } from './modelMetadata.ts';
export * from './decisionRule.ts';
