import { spawn } from 'node:child_process';
import type { CompiledShaderIndex } from './compiled-shader-index-node.ts';
import type { ShaderPrewarmer } from './platform.ts';

/**
 * Lavapipe (Mesa's CPU Vulkan driver) compiles a compute shader to machine code with LLVM at the
 * pipeline's first dispatch, on its queue thread: one core, while the other sits idle, and in
 * order with the queued work. Those compilations were most of a training job's first epoch
 * (benchmarks/README.md, "First epoch"). Mesa keeps the compiled code in its on-disk shader cache,
 * shared by every device of every process on the machine; so a second device, in a helper process,
 * compiles the same shaders on the other core, newest first (the main device's queue works from
 * the oldest), and the main device's queue then finds them in the cache. Each source is sent the
 * moment its pipeline is created (kernel/pipelines.ts), and the batcher holds back the submit of a
 * batch with new pipelines until a forced flush (kernel/batcher.ts): the helper compiles while the
 * job still records its first training step, and the job's queue starts once the step is recorded.
 * Sources Mesa's cache already holds are not sent (compiled-shader-index-node.ts).
 *
 * The worker dispatches zero workgroups (an indirect dispatch of 0 x 0 x 0): lavapipe compiles the shader for the dispatch and runs
 * nothing, so no kernel ever sees the worker's placeholder buffers. Everything here is best
 * effort: if the worker cannot start or a shader fails there, the main device compiles as before.
 *
 * The worker is a data: URL module (no separate file to find from source, dist/ or a bundle); it
 * imports the same `webgpu` binding by its resolved URL.
 */
const helperSource = `
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
const cfg = JSON.parse(process.env.CXR_PREWARM_CONFIG);
// Before the device exists, so lavapipe's queue thread (which does the compiling) inherits it.
try { setPriority(0, cfg.nice); } catch {}
const { create, globals } = await import(cfg.webgpu);
Object.assign(globalThis, globals);
const instance = create([]);
const adapter = await instance.requestAdapter();
const device = adapter && (await adapter.requestDevice({ requiredFeatures: cfg.features, requiredLimits: cfg.limits }));
if (!device) process.exit(0);
globalThis.keepInstance = instance;
device.addEventListener('uncapturederror', (e) => e.preventDefault());
// Placeholder bindings: nothing ever reads them, they only have to satisfy the layout.
const storage = [];
const uniform = device.createBuffer({ size: 65536, usage: GPUBufferUsage.UNIFORM });
// Zero workgroups, read from a buffer: a direct zero-size dispatch makes Dawn print a warning.
const indirect = device.createBuffer({ size: 16, usage: GPUBufferUsage.INDIRECT });
const buffer = (i) => (storage[i] ??= device.createBuffer({ size: 65536, usage: GPUBufferUsage.STORAGE }));
const pending = [];
let pumping = false;
let done = 0;
function warm(code) {
  const module = device.createShaderModule({ code });
  // Blocks (sleeping) while this device's queue still compiles the previous shader.
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const entries = [];
  for (const m of code.matchAll(/@group\\(0\\) @binding\\((\\d+)\\) var<(storage|uniform)/g))
    entries.push({ binding: Number(m[1]), resource: { buffer: m[2] === 'uniform' ? uniform : buffer(Number(m[1])) } });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
  pass.dispatchWorkgroupsIndirect(indirect, 0);
  pass.end();
  device.queue.submit([encoder.finish()]);
}
async function pump() {
  pumping = true;
  // A tick first, so every source of a message that arrived in one chunk is queued before the
  // newest is chosen.
  await new Promise((r) => setImmediate(r));
  while (pending.length > 0) {
    try { warm(pending.pop()); } catch {}
    done++;
    // Lets newer sources arrive before choosing the next one.
    await new Promise((r) => setImmediate(r));
  }
  await device.queue.onSubmittedWorkDone();
  pumping = false;
  if (pending.length > 0) void pump();
  else process.stdout.write('cxr-prewarm-idle ' + done + '\\n');
}
const lines = createInterface({ input: process.stdin });
lines.on('line', (l) => {
  pending.push(...JSON.parse(l));
  if (!pumping) void pump();
});
// The parent has gone: stop at once.
lines.on('close', () => process.exit(0));
`;

export interface PrewarmOptions {
  features: string[];
  limits: Record<string, number>;
  /**
   * Scheduling priority of the helper and the driver threads it starts. Normal (0) by default:
   * it only works while the job's queue compiles on one core and the other waits, and at nice 19
   * the job's own polling thread took that core from it (epoch 1 13.3 s against 10.1 s at 0).
   */
  nice: number;
  /** Sources Mesa's cache already holds: not sent (compiled-shader-index-node.ts). */
  index: CompiledShaderIndex;
}

/** Starts the helper; null where it cannot (no resolvable `webgpu`, no child processes). */
export function startShaderPrewarmer(opts: PrewarmOptions): ShaderPrewarmer | null {
  let webgpu: string;
  try {
    webgpu = import.meta.resolve('webgpu');
  } catch {
    return null;
  }
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(process.execPath, ['--input-type=module', '-e', helperSource], {
      // Dawn's own messages (limits it lowered) would repeat the main device's: not shown.
      stdio: ['pipe', 'pipe', 'ignore'],
      env: { ...process.env, NODE_OPTIONS: '', CXR_PREWARM_CONFIG: JSON.stringify({ webgpu, ...opts }) },
    });
  } catch {
    return null;
  }
  let alive = true;
  let posted = 0;
  let compiled = 0;
  // Sent since the helper last said it was idle: in Mesa's cache once it says so again.
  const inFlight: string[] = [];
  const waiters: (() => void)[] = [];
  // The helper's output keeps the process alive only while someone waits for it.
  const out = child.stdout as unknown as { ref?: () => void; unref?: () => void } | null;
  const wake = () => {
    for (const w of waiters.splice(0)) w();
    out?.unref?.();
  };
  const stop = () => {
    alive = false;
    wake();
  };
  child.on('error', stop);
  child.on('exit', stop);
  child.stdin?.on('error', stop);
  child.stdout?.setEncoding('utf8');
  let partial = '';
  child.stdout?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      const m = /^cxr-prewarm-idle (\d+)$/.exec(l);
      if (m) compiled = Number(m[1]);
    }
    if (compiled >= posted) {
      opts.index.add(inFlight.splice(0));
      wake();
    }
  });
  // Neither the helper nor its pipes keep the parent alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  out?.unref?.();
  return {
    warm(sources: readonly string[]) {
      const fresh = sources.filter((s) => !opts.index.has(s));
      if (!alive || !child.stdin || fresh.length === 0) return 0;
      posted += fresh.length;
      inFlight.push(...fresh);
      child.stdin.write(`${JSON.stringify(fresh)}\n`);
      return fresh.length;
    },
    idle() {
      if (!alive || compiled >= posted) return Promise.resolve();
      out?.ref?.();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    close() {
      if (alive) child.kill('SIGKILL');
      stop();
    },
  };
}
