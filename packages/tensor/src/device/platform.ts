/**
 * What the device needs from the environment it runs in. The browser's is the default (WebGPU is a
 * browser API first: `navigator.gpu`, nothing else); the package's Node entry replaces it with Dawn
 * (`webgpu`), the disk cache and the priority tweak (platform-node.ts), so the browser build never
 * loads a Node built-in.
 */
export interface Platform {
  readonly name: string;
  /** The WebGPU entry point. In Node the returned object must stay referenced while the device lives. */
  gpu(flags: readonly string[]): GPU;
  /** What to tell the user when no adapter is found. */
  readonly noAdapterHelp: string;
  /** Called once on a CPU adapter, at the first wait for the device (Node lowers the main thread's priority there). */
  onCpuAdapter?(flags: readonly string[]): void;
  /**
   * A helper that compiles shaders ahead of the device on a second device (Node on lavapipe: see
   * shader-prewarm-node.ts); null where the platform has none or it would not help.
   */
  shaderPrewarmer?(adapterName: string, features: readonly string[], limits: Record<string, number>): ShaderPrewarmer | null;
  /** Small text files that outlive the process (autotune results), where the platform has a disk. */
  readonly cache?: { read(name: string): string | undefined; write(name: string, text: string): void };
}

export interface ShaderPrewarmer {
  /**
   * Queues WGSL sources the device has just created pipelines for, oldest first; returns how many
   * it took (those its cache already holds are left out).
   */
  warm(sources: readonly string[]): number;
  /** Resolves once the helper has compiled every source queued so far (or has stopped). */
  idle(): Promise<void>;
  /** Stops the helper (its device with it). */
  close(): void;
}

const browser: Platform = {
  name: 'browser',
  gpu() {
    const g = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!g) throw new Error('getDevice: this browser has no WebGPU (navigator.gpu): use a current Chrome or Edge, or enable WebGPU in Firefox or Safari');
    return g;
  },
  noAdapterHelp: 'no WebGPU adapter: the browser offers WebGPU but no adapter (hardware acceleration off, or WebGPU blocked for this GPU)',
};

let current: Platform = browser;

export function platform(): Platform {
  return current;
}

/** Installs the environment's platform; done once by an entry module before any device exists. */
export function setPlatform(p: Platform): void {
  current = p;
}
