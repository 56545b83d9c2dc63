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
  /** Sources created since the last `postNew`, oldest first; only kept while a prewarmer exists. */
  private readonly unposted: string[] = [];

  constructor(private readonly device: GPUDevice) {}

  get(source: string, label: string): GPUComputePipeline {
    let p = this.cache.get(source);
    if (!p) {
      const module = this.device.createShaderModule({ code: source, label });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label });
      this.cache.set(source, p);
      this.compiled++;
      if (this.prewarmer) this.unposted.push(source);
    }
    return p;
  }

  /** True while pipelines created since the last `postNew` have not been handed to the prewarmer. */
  get hasUnposted(): boolean {
    return this.unposted.length > 0;
  }

  /** Hands the new sources to the prewarmer in one message, oldest first (it compiles from the newest). */
  postNew(): void {
    if (this.unposted.length > 0) this.prewarmer?.warm(this.unposted.splice(0));
  }

  get size(): number {
    return this.cache.size;
  }
}
