import type { ShaderPrewarmer } from '../device/platform.ts';

/**
 * Compiled pipelines, cached by their WGSL source: kernels bake shapes into the source, and CNN
 * training repeats the same shapes every step, so each variant compiles once.
 * `createComputePipeline` (sync) is used on purpose: the async variant segfaults on lavapipe.
 */
export class PipelineCache {
  private readonly cache = new Map<string, GPUComputePipeline>();
  compiled = 0;
  /**
   * Gets every new source the moment its pipeline is created, to compile it ahead of the device
   * (lavapipe in Node): while the job records the rest of its first step, the helper is already
   * compiling on the other core.
   */
  prewarmer: ShaderPrewarmer | null = null;
  /** Pipelines created since the batch was last submitted whose shaders the prewarmer took. */
  private prewarming = 0;

  constructor(private readonly device: GPUDevice) {}

  get(source: string, label: string): GPUComputePipeline {
    let p = this.cache.get(source);
    if (!p) {
      const module = this.device.createShaderModule({ code: source, label });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label });
      this.cache.set(source, p);
      this.compiled++;
      if (this.prewarmer) this.prewarming += this.prewarmer.warm([source]);
    }
    return p;
  }

  /** True while the batch being recorded uses shaders the prewarmer is compiling (batcher.ts holds it). */
  get awaitsPrewarm(): boolean {
    return this.prewarming > 0;
  }

  /** The batch has gone to the queue. */
  submitted(): void {
    this.prewarming = 0;
  }

  get size(): number {
    return this.cache.size;
  }
}
