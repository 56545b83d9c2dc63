/**
 * LLVM time of hand-edited WGSL variants, alternating in one process: for trying what makes a
 * shader cheaper for lavapipe to compile before changing the generator. Each file is one compute
 * shader (entry point `main`), e.g. a `source` taken from a `startup.ts --dump-wgsl` dump and
 * edited. Per round, every file is compiled and dispatched (one workgroup, tiny buffers, uniforms
 * all 1) twice; the first dispatch's extra time over the second is the JIT compilation, as in
 * `compile-replay.ts --dispatch`. The entry point gets a new name per round so that neither Dawn
 * nor Mesa hands back a pipeline compiled before.
 *
 * `MESA_SHADER_CACHE_DISABLE=true pnpm exec tsx src/shader-ab.ts A.wgsl B.wgsl [--rounds 3]`
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { getDevice } from '@cxr/tensor';
import { timedDispatch } from './timedDispatch.ts';

const args = process.argv.slice(2);
const at = args.indexOf('--rounds');
const rounds = at >= 0 ? Number(args[at + 1]) : 3;
const files = args.filter((a, i) => !a.startsWith('--') && (at < 0 || i !== at + 1));
if (files.length === 0) throw new Error('shader-ab: give one or more WGSL files');
const gpu = await getDevice();
// Waits below go to the device directly: lower the priority now, as the library's first wait would.
gpu.waiting();
const { device, adapter } = gpu;
const errors: string[] = [];
device.addEventListener('uncapturederror', (ev) => errors.push((ev as GPUUncapturedErrorEvent).error.message));
const dispatchOnce = timedDispatch(device);

console.log(
  `${adapter.info.description || adapter.info.architecture}; ${files.length} files x ${rounds} rounds; shader cache ${process.env.MESA_SHADER_CACHE_DISABLE === 'true' ? 'off' : 'on'}; load ${loadavg()[0].toFixed(1)}`,
);
const sources = files.map((f) => readFileSync(f, 'utf8'));
const ms: number[][] = files.map(() => []);
for (let r = 0; r < rounds; r++)
  for (let i = 0; i < files.length; i++) {
    const entryPoint = `main_${r}_${i}_${Date.now() % 100000}`;
    const code = sources[i].replace(/\bfn main\(/, `fn ${entryPoint}(`);
    const p = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint } });
    const first = await dispatchOnce(p, code);
    ms[i].push(first - (await dispatchOnce(p, code)));
  }
for (let i = 0; i < files.length; i++) {
  const sorted = [...ms[i]].sort((a, b) => a - b);
  console.log(`${sorted[Math.floor(sorted.length / 2)].toFixed(0).padStart(6)} ms median (${ms[i].map((x) => x.toFixed(0)).join(' ')})  ${files[i]}`);
}
if (errors.length) console.log(`errors ${errors.length}: ${errors[0]}`);
console.log(`load ${loadavg()[0].toFixed(1)}`);
device.destroy();
