/**
 * Replays pipeline compilations recorded by `startup.ts --dump-wgsl FILE` in a process that runs
 * nothing else: what each compilation costs on an empty queue, against what it cost inside the job.
 *
 * `pnpm exec tsx src/compile-replay.ts FILE [--backend null] [--async N] [--dispatch] [--each] [--nice]`
 *   --backend null: Dawn's null backend (WGSL parsing, validation and Tint only; no driver).
 *   --dawn-flags 'F ...': more flags for Dawn's `create()`, e.g. 'enable-dawn-features=disable_robustness'.
 *   --async N: createComputePipelineAsync with up to N compilations in flight.
 *   --dispatch: after creating each pipeline, dispatch one workgroup of it on tiny buffers and wait,
 *     twice: lavapipe JIT-compiles a shader at its first dispatch, on the queue's thread, so the
 *     first dispatch's extra time over the second is the LLVM compilation. Uniforms are all 1 and
 *     every binding a separate 64 KiB buffer (Dawn clamps out-of-range accesses).
 *   --each: the 40 costliest pipelines; --nice: lower the main thread's priority as the job does.
 *   --prewarm: first hand every source to the shader prewarmer (a second device in a helper
 *     process) and wait until it has compiled them all; the replay then shows cache hits.
 * (MESA_SHADER_CACHE_DISABLE=true for cold compilation.)
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { getDevice } from '@cxr/tensor';
import { timedDispatch } from './timedDispatch.ts';
import { flag, numberOption, option } from './cliArgs.ts';

const file = process.argv[2];
const backend = option('--backend');
const asyncN = numberOption('--async', 0);
const recorded = JSON.parse(readFileSync(file, 'utf8')) as { label: string; ms: number; source: string }[];
// The library's own device (same features and limits as the job), priority left alone.
const dawnFlags = [...(backend ? [`backend=${backend}`] : []), ...(option('--dawn-flags')?.split(' ').filter(Boolean) ?? [])];
const gpu = await getDevice({ flags: dawnFlags, lowerMainThreadPriority: flag('--nice') });
// Waits below go to the device directly: lower the priority now, as the library's first wait would.
gpu.waiting();
const { device, adapter } = gpu;
// A dump from one adapter may hold shaders past another's binding limits (lavapipe allows more
// storage buffers per stage than Dawn's null backend's 8): those are left out, by name.
const storageLimit = device.limits.maxStorageBuffersPerShaderStage;
const storageBindings = (source: string) => source.match(/var<storage/g)?.length ?? 0;
const list: typeof recorded = [];
for (const e of recorded) {
  const n = storageBindings(e.source);
  if (n <= storageLimit) list.push(e);
  else console.log(`left out (${n} storage buffers, this device allows ${storageLimit}): ${e.label}`);
}
const errors: string[] = [];
device.addEventListener('uncapturederror', (ev) => errors.push((ev as GPUUncapturedErrorEvent).error.message));
console.log(
  `${adapter.info.description || adapter.info.architecture} backend ${backend ?? 'default'}; ${list.length} sources; ${asyncN ? `async x${asyncN}` : 'sync'}; shader cache ${process.env.MESA_SHADER_CACHE_DISABLE === 'true' ? 'off' : 'on'}; load ${loadavg()[0].toFixed(1)}`,
);
const times: { label: string; inJob: number; ms: number; moduleMs: number; firstMs?: number; againMs?: number }[] = [];
const dispatch = flag('--dispatch');
const dispatchOnce = timedDispatch(device);
if (flag('--prewarm')) {
  const prewarmer = gpu.pipelines.prewarmer;
  if (!prewarmer) throw new Error('--prewarm: no shader prewarmer on this device (lavapipe with the Mesa shader cache on only)');
  const a = performance.now();
  prewarmer.warm(list.map((e) => e.source));
  await prewarmer.idle();
  console.log(`prewarmer compiled ${list.length} sources in ${((performance.now() - a) / 1000).toFixed(1)} s`);
}
const t0 = performance.now();
if (asyncN > 0) {
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const e = list[next++];
      const a = performance.now();
      const module = device.createShaderModule({ code: e.source, label: e.label });
      const m = performance.now() - a;
      await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: e.label });
      times.push({ label: e.label, inJob: e.ms, ms: performance.now() - a, moduleMs: m });
    }
  };
  await Promise.all(Array.from({ length: asyncN }, worker));
} else {
  for (const e of list) {
    const a = performance.now();
    const module = device.createShaderModule({ code: e.source, label: e.label });
    const m = performance.now() - a;
    const p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: e.label });
    const ms = performance.now() - a;
    if (dispatch) {
      const firstMs = await dispatchOnce(p, e.source);
      const againMs = await dispatchOnce(p, e.source);
      times.push({ label: e.label, inJob: e.ms, ms, moduleMs: m, firstMs, againMs });
    } else times.push({ label: e.label, inJob: e.ms, ms, moduleMs: m });
  }
}
await device.queue.onSubmittedWorkDone();
const total = performance.now() - t0;
const sum = (k: 'ms' | 'inJob' | 'moduleMs' | 'firstMs' | 'againMs') => times.reduce((s, t) => s + (t[k] ?? 0), 0) / 1000;
if (dispatch) console.log(`first dispatches ${sum('firstMs').toFixed(1)} s, second dispatches ${sum('againMs').toFixed(1)} s`);
console.log(
  `wall ${(total / 1000).toFixed(1)} s; sum per pipeline ${sum('ms').toFixed(1)} s (createShaderModule ${sum('moduleMs').toFixed(2)} s); in the job ${sum('inJob').toFixed(1)} s; errors ${errors.length}; load ${loadavg()[0].toFixed(1)}`,
);
const fam = new Map<string, { n: number; ms: number; inJob: number }>();
// With --dispatch, "here" is the JIT estimate: first dispatch minus second.
const cost = (t: (typeof times)[number]) => (dispatch ? (t.firstMs ?? 0) - (t.againMs ?? 0) : t.ms);
for (const t of times) {
  const f = t.label.split(' ')[0];
  const e = fam.get(f) ?? { n: 0, ms: 0, inJob: 0 };
  e.n++;
  e.ms += cost(t);
  e.inJob += t.inJob;
  fam.set(f, e);
}
console.log('family: n, here s, in job s');
for (const [f, e] of [...fam.entries()].sort((a, b) => b[1].ms - a[1].ms))
  console.log(`  ${f.padEnd(34)} ${String(e.n).padStart(3)} ${(e.ms / 1000).toFixed(2).padStart(7)} ${(e.inJob / 1000).toFixed(2).padStart(7)}`);
if (flag('--each'))
  for (const t of times.sort((a, b) => cost(b) - cost(a)).slice(0, 40))
    console.log(`  ${cost(t).toFixed(0).padStart(6)} ${t.inJob.toFixed(0).padStart(6)}  ${t.label.slice(0, 110)}`);
device.destroy();
