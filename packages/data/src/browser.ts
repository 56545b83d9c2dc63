// @cxr/data in a browser: decoding from bytes (DecompressionStream, no zlib), the transforms and
// seeded randomness; no Node built-in is loaded (index.ts, the Node entry, adds files, folders,
// the worker-thread loader, the synchronous decoder and the synthetic dataset).
export type { Image } from './image.ts';
export { makeImage } from './image.ts';
export { mulberry32, mixSeed, shuffleInPlace, type Rng } from './rng.ts';
export { decodeImageAsync } from './decode/decode-async.ts';
export { ImageDecodeError } from './decode/errors.ts';
export { sniffFormat, type ImageFormat } from './decode/sniff.ts';
export { readImageHeader, type ImageHeader } from './decode/header.ts';
export { resize, resample, reduce, outputSize, type Filter, type Box } from './transforms/resize.ts';
export { crop, centerCrop, randomResizedCrop, randomResizedCropParams, pyRound } from './transforms/crop.ts';
export { rotate } from './transforms/rotate.ts';
export { hflip } from './transforms/flip.ts';
export { equalize } from './transforms/equalize.ts';
export { toCHW, toPlanes, toRgb, IMAGENET_MEAN, IMAGENET_STD } from './transforms/normalize.ts';
export { applyTransforms, trainTransforms, evalTransforms, type TransformSpec } from './transforms/pipeline.ts';
