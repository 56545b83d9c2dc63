import { BufferPool } from '../memory/pool.ts';
import { CommandBatcher } from '../kernel/batcher.ts';
import { PipelineCache } from '../kernel/pipelines.ts';
import { platform } from './platform.ts';

export interface DeviceOptions {
  /** Dawn toggles for `create()`, e.g. `['backend=null']` to compile shaders without running them. */
  flags?: string[];
  /**
   * Largest byte size the library binds as one storage buffer. Defaults to the adapter's
   * `maxStorageBufferBindingSize`; tests lower it so ordinary tensors are split into pages.
   */
  maxBindingBytes?: number;
  /** Dispatches recorded before a submit is forced (readbacks flush earlier). */
  dispatchesPerSubmit?: number;
  /**
   * Lower the main thread's scheduling priority on CPU adapters: Dawn busy-polls the main thread
   * while a promise is pending, stealing a core from lavapipe's workers (measured up to +80%).
   * Done at the first wait for the device, not at open: until then the thread is recording the
   * first step and creating its pipelines, work that is on the critical path and that, at the
   * lowest priority, the shader prewarmer and any other process would starve (a process cannot
   * raise its priority again).
   */
  lowerMainThreadPriority?: boolean;
  /**
   * Run the open-time tuning (matmul tiles timed on a GPU adapter without a cached choice: tens of
   * milliseconds there; never on a CPU adapter, where `pnpm bench` tunes). Default true; off
   * under Dawn's null backend, which runs nothing to time.
   */
  autotune?: boolean;
  /**
   * On lavapipe, compile new shaders ahead of the device on a second device in a helper process
   * (shader-prewarm-node.ts); default true. Off: every shader compiles on the device's own
   * queue thread, one at a time.
   */
  prewarmShaders?: boolean;
}

/** The one WebGPU device of the process, with the machinery every op shares. */
export class Gpu {
  readonly pool: BufferPool;
  readonly batcher: CommandBatcher;
  readonly pipelines: PipelineCache;
  /** Elements per storage binding: a power of two so kernels page with shifts and masks. */
  readonly pageElements: number;
  readonly pageShift: number;
  readonly isCpuAdapter: boolean;
  private readonly errors: string[] = [];
  private lostMessage: string | null = null;
  /** Run once, before the first wait for the device (the CPU adapter's priority change). */
  beforeFirstWait: (() => void) | null = null;

  constructor(
    // Dawn aborts the process later if the object `create()` returned is garbage collected.
    readonly instance: GPU,
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly options: DeviceOptions,
  ) {
    const limit = Math.min(options.maxBindingBytes ?? Infinity, device.limits.maxStorageBufferBindingSize);
    this.pageShift = Math.floor(Math.log2(limit / 4));
    this.pageElements = 2 ** this.pageShift;
    const info = adapter.info;
    const desc = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
    this.isCpuAdapter = /llvmpipe|lavapipe|swiftshader|cpu/.test(desc);
    this.pool = new BufferPool(device);
    this.pipelines = new PipelineCache(device);
    this.batcher = new CommandBatcher(this, options.dispatchesPerSubmit ?? 16);
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.errors.push(e.message);
    });
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lostMessage = `WebGPU device lost (${info.reason}): ${info.message}`;
    });
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  get adapterName(): string {
    const i = this.adapter.info;
    return [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ').replace(/\s+/g, ' ').trim() || 'unknown adapter';
  }

  /** Called by every wait for the device (readbacks, `sync`). */
  waiting(): void {
    const f = this.beforeFirstWait;
    this.beforeFirstWait = null;
    f?.();
  }

  /** Throws the first WebGPU error recorded since the last check, naming the op if the label did. */
  checkErrors(context: string): void {
    if (this.lostMessage) throw new Error(`${context}: ${this.lostMessage}`);
    if (this.errors.length > 0) {
      const msgs = this.errors.splice(0);
      throw new Error(`${context}: WebGPU reported ${msgs.length} error(s): ${msgs.join(' | ')}`);
    }
  }

  get lost(): string | null {
    return this.lostMessage;
  }
}

let current: Gpu | null = null;
let pending: Promise<Gpu> | null = null;

/**
 * Work run once when a device opens, before `getDevice` resolves (the matmul autotuner on GPU
 * adapters registers here; a hook that fails leaves the device usable).
 */
const openHooks: ((g: Gpu) => Promise<void>)[] = [];
export function onDeviceOpen(hook: (g: Gpu) => Promise<void>): void {
  openHooks.push(hook);
}

async function open(options: DeviceOptions): Promise<Gpu> {
  const host = platform();
  const instance = host.gpu(options.flags ?? []);
  const adapter = await instance.requestAdapter();
  if (!adapter) throw new Error(`getDevice: ${host.noAdapterHelp}`);
  const l = adapter.limits;
  const wanted: (keyof GPUSupportedLimits)[] = [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupSizeZ',
    'maxComputeWorkgroupsPerDimension',
    'maxBindGroups',
    'maxUniformBufferBindingSize',
  ];
  const requiredLimits: Record<string, number> = {};
  for (const k of wanted) requiredLimits[k] = l[k] as number;
  const requiredFeatures = (['shader-f16', 'subgroups', 'timestamp-query'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const gpu = new Gpu(instance, adapter, device, options);
  if (options.prewarmShaders !== false && !(options.flags ?? []).includes('backend=null'))
    gpu.pipelines.prewarmer = host.shaderPrewarmer?.(gpu.adapterName, requiredFeatures, requiredLimits) ?? null;
  if (gpu.isCpuAdapter && options.lowerMainThreadPriority !== false) gpu.beforeFirstWait = () => host.onCpuAdapter?.(options.flags ?? []);
  return gpu;
}

/** The shared device, created on first use with the adapter's own limits. */
export function getDevice(options: DeviceOptions = {}): Promise<Gpu> {
  if (current) return Promise.resolve(current);
  if (!pending) {
    pending = open(options).then(
      async (g) => {
        current = g;
        if (options.autotune !== false && !(options.flags ?? []).includes('backend=null')) {
          for (const hook of openHooks) {
            try {
              await hook(g);
            } catch {
              /* tuning is an optimisation: keep the defaults */
            }
          }
        }
        return g;
      },
      (e) => {
        pending = null;
        throw e;
      },
    );
  }
  return pending;
}

/** The device for synchronous op recording; ops need `await getDevice()` to have run once. */
export function gpu(): Gpu {
  if (!current) throw new Error('No WebGPU device yet: call `await getDevice()` once before creating tensors.');
  return current;
}

export function hasDevice(): boolean {
  return current !== null;
}

/** Waits for queued GPU work, frees pooled buffers and destroys the device so the process can exit. */
export async function destroyDevice(): Promise<void> {
  const g = current ?? (pending ? await pending.catch(() => null) : null);
  current = null;
  pending = null;
  if (!g) return;
  if (!g.lost) {
    g.batcher.flush();
    await g.device.queue.onSubmittedWorkDone();
  }
  g.pool.destroyAll();
  g.batcher.staging.destroy();
  g.batcher.uploads.destroy();
  g.device.destroy();
  g.pipelines.prewarmer?.close();
}
