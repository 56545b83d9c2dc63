// @cxr/tensor in Node: Dawn (the `webgpu` binding) as the device, the disk autotune cache, cacheDir.
import './device/platform-node.ts';

export * from './index.ts';
export { cacheDir } from './cacheDir.ts';
