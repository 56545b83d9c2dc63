/**
 * Compiled pipelines, cached by their WGSL source: kernels bake shapes into the source, and CNN
 * training repeats the same shapes every step, so each variant compiles once.
 * `createComputePipeline` (sync) is used on purpose: the async variant segfaults on lavapipe.
 */
export class PipelineCache {
  private readonly cache = new Map<string, GPUComputePipeline>();
  compiled = 0;

  constructor(private readonly device: GPUDevice) {}

  get(source: string, label: string): GPUComputePipeline {
    let p = this.cache.get(source);
    if (!p) {
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
