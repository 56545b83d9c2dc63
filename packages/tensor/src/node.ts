// @cxr/tensor in Node: Dawn (the `webgpu` binding) as the device, the disk autotune cache, cacheDir.
import './device/platform-node.js';

export * from './index.js';
export { cacheDir } from './cacheDir.js';
