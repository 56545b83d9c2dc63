import type { ShaderPrewarmer } from '../device/platform.ts';

/**
 * Compiled pipelines, cached by their WGSL source: kernels bake shapes into the source, and CNN
 * training repeats the same shapes every step, so each variant compiles once.
 * `createComputePipeline` (sync) is used on purpose: the async variant segfaults on lavapipe.
 */
export class PipelineCache {
  /**
   * By kernel body, then by prelude (bindings and accessors): a step's bodies are the same string
   * objects call after call where their generators are memoised, and V8 keeps a string's hash, so
   * a lookup costs no pass over tens of kilobytes of WGSL; the prelude is short. Keyed by their
   * concatenation, every dispatch hashed and compared a new string that long.
   */
  private readonly cache = new Map<string, Map<string, GPUComputePipeline>>();
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

  /** The pipeline of the WGSL `prelude + body`, created on first use. */
  get(prelude: string, body: string, label: string): GPUComputePipeline {
    let byPrelude = this.cache.get(body);
    if (!byPrelude) {
      byPrelude = new Map();
      this.cache.set(body, byPrelude);
    }
    let p = byPrelude.get(prelude);
    if (!p) {
      const source = prelude + body;
      const module = this.device.createShaderModule({ code: source, label });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label });
      byPrelude.set(prelude, p);
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

  /** Pipelines created (each is kept). */
  get size(): number {
    return this.compiled;
  }
}
