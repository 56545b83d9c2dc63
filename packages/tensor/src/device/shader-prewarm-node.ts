import { spawn } from 'node:child_process';
import type { ShaderPrewarmer } from './platform.ts';

/**
 * Lavapipe (Mesa's CPU Vulkan driver) compiles a compute shader to machine code with LLVM at the
 * pipeline's first dispatch, on its queue thread: one core, while the other sits idle, and in
 * order with the queued work. Those compilations were most of a training job's first epoch
 * (benchmarks/README.md, "First epoch"). Mesa keeps the compiled code in its on-disk shader cache,
 * shared by every device of every process on the machine; so a second device, in a helper process,
 * compiles the same shaders on the other core, newest first (the main device's queue works from
 * the oldest), and the main device's queue then finds them in the cache.
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
// Before the device exists, so lavapipe's queue thread (which does the compiling) inherits it:
// the helper takes the cores only when the job leaves them idle.
try { setPriority(0, cfg.nice); } catch {}
const { create, globals } = await import(cfg.webgpu);
Object.assign(globalThis, globals);
const instance = create([]);
const adapter = await instance.requestAdapter();
const device = adapter && (await adapter.requestDevice({ requiredFeatures: cfg.features, requiredLimits: cfg.limits }));
if (!device) process.exit(0);
globalThis.keepInstance = instance;
device.addEventListener('uncapturederror', (e) => e.preventDefault());
const storage = [];
const uniform = device.createBuffer({ size: 256, usage: GPUBufferUsage.UNIFORM });
// Zero workgroups, read from a buffer: a direct zero-size dispatch makes Dawn print a warning.
const indirect = device.createBuffer({ size: 16, usage: GPUBufferUsage.INDIRECT });
const buffer = (i) => (storage[i] ??= device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE }));
const pending = [];
let pumping = false;
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
  while (pending.length > 0) {
    try { warm(pending.pop()); } catch {}
    // Lets newer sources arrive before choosing the next one.
    await new Promise((r) => setImmediate(r));
  }
  pumping = false;
}
const lines = createInterface({ input: process.stdin });
lines.on('line', (l) => {
  pending.push(JSON.parse(l));
  if (!pumping) void pump();
});
// The parent has gone: stop at once.
lines.on('close', () => process.exit(0));
`;

export interface PrewarmOptions {
  features: string[];
  limits: Record<string, number>;
  /** Scheduling priority of the helper and the driver threads it starts (19 = lowest). */
  nice: number;
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
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { ...process.env, NODE_OPTIONS: '', CXR_PREWARM_CONFIG: JSON.stringify({ webgpu, ...opts }) },
    });
  } catch {
    return null;
  }
  let alive = true;
  let posted = 0;
  child.on('error', () => {
    alive = false;
  });
  child.on('exit', () => {
    alive = false;
  });
  child.stdin?.on('error', () => {
    alive = false;
  });
  // Neither the helper nor its pipe keeps the parent alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return {
    warm(source: string) {
      if (!alive || !child.stdin) return;
      posted++;
      child.stdin.write(`${JSON.stringify(source)}\n`);
    },
    get posted() {
      return posted;
    },
    async close() {
      if (alive) child.kill('SIGKILL');
      alive = false;
      return posted;
    },
  };
}
