import type { ShaderPrewarmer } from '../device/platform.ts';

/**
 * Compiled pipelines, cached by their WGSL source: kernels bake shapes into the source, and CNN
 * training repeats the same shapes every step, so each variant compiles once.
 * `createComputePipeline` (sync) is used on purpose: the async variant segfaults on lavapipe.
 */
export class PipelineCache {
  private readonly cache = new Map<string, GPUComputePipeline>();
  compiled = 0;
  /** Gets every new source as well, to compile it ahead of the device (lavapipe in Node). */
  prewarmer: ShaderPrewarmer | null = null;

  constructor(private readonly device: GPUDevice) {}

  get(source: string, label: string): GPUComputePipeline {
    let p = this.cache.get(source);
    if (!p) {
      // First, so the helper starts while this call may still wait for the device's queue.
      this.prewarmer?.warm(source);
      const module = this.device.createShaderModule({ code: source, label });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label });
      this.cache.set(source, p);
      this.compiled++;
    }
    return p;
  }

  get size(): number {
    return this.cache.size;
  }
}
