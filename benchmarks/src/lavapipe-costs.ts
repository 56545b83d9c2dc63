/**
 * What lavapipe's generated code costs: the arithmetic ceiling of a compute shader and the price of
 * the operations that the conv kernels spend around their FMAs (per-lane loads, cross-lane moves),
 * each as GFLOP/s of a kernel that does 16 FMAs per such operation, on both cores.
 * `pnpm exec tsx src/lavapipe-costs.ts [--widths 256,512]`: with --widths, one child process per
 * SIMD width (`LP_NATIVE_VECTOR_WIDTH`, which lavapipe reads once, when the driver starts).
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { getDevice, gpu, rand, runKernel, sync, zeros } from '@cxr/tensor';

const args = process.argv.slice(2);
const widthsAt = args.indexOf('--widths');
if (widthsAt >= 0) {
  for (const width of args[widthsAt + 1].split(',')) {
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1]], {
      env: { ...process.env, LP_NATIVE_VECTOR_WIDTH: width, MESA_SHADER_CACHE_DIR: `${process.env.TMPDIR ?? '/tmp'}/cxr-lavapipe-costs-${width}` },
      encoding: 'utf8',
    });
    process.stdout.write(r.stdout);
    if (r.status !== 0) process.stderr.write(r.stderr);
  }
  process.exit(0);
}

await getDevice({ lowerMainThreadPriority: true });
const lanes = (gpu().adapter.info as GPUAdapterInfo & { subgroupMinSize?: number }).subgroupMinSize ?? 0;
const hasSubgroups = gpu().device.features.has('subgroups');
console.log(`${gpu().adapterName}; subgroup ${lanes} lanes; load ${loadavg()[0].toFixed(1)}`);

/** Independent accumulators per invocation: enough to cover the FMA latency on two pipes. */
const A = 16;
const steps = 1024;
const src = rand([steps * 16 + 64]);
const acc = Array.from({ length: A }, (_, i) => `  var a${i} = f32(lid) * ${i + 1}.0e-7;`).join('\n');
const each = (f: (i: number) => string) => Array.from({ length: A }, (_, i) => f(i)).join('\n');

interface Probe {
  name: string;
  why: string;
  /** FMAs per accumulator per loop iteration. */
  fmas: number;
  body: string;
  subgroups?: boolean;
  /** Fills a workgroup array and waits at a barrier before the loop. */
  workgroup?: boolean;
}
const probes: Probe[] = [
  {
    name: 'fma, 4 per assignment',
    why: 'the ceiling: each accumulator assigned once per 4 FMAs',
    fmas: 4,
    body: each((i) => `    a${i} = fma(fma(fma(fma(a${i}, b, 1e-7), b, 2e-7), b, 3e-7), b, 4e-7);`),
  },
  {
    name: 'fma, 1 per assignment',
    why: "every loop-carried assignment is blended with the loop's execution mask",
    fmas: 1,
    body: each((i) => `    a${i} = fma(a${i}, b, 1e-7);`),
  },
  {
    name: 'per-lane scalar load',
    why: 'one storage load per lane (different addresses), 16 FMAs on it',
    fmas: 1,
    body: `    let s = src_get(k * 16u + lid % 16u);\n${each((i) => `    a${i} = fma(a${i}, s, b);`)}`,
  },
  {
    name: 'per-lane vec4 load',
    why: 'one vec4 storage load per lane',
    fmas: 1,
    body: `    let s = src_get4(k * 4u + lid % 4u);\n${each((i) => `    a${i} = fma(a${i}, s[${i % 4}], b);`)}`,
  },
  {
    name: 'same-address loads',
    why: 'a load at an address equal in all lanes, per FMA',
    fmas: 1,
    body: each((i) => `    a${i} = fma(a${i}, src_get(k * 16u + ${i}u), b);`),
  },
  {
    name: 'fma after a barrier',
    why: 'fma, 1 per assignment, in a shader with a workgroup barrier (a coroutine on lavapipe)',
    fmas: 1,
    workgroup: true,
    body: each((i) => `    a${i} = fma(a${i}, b, 1e-7);`),
  },
  {
    name: 'workgroup, per-lane load',
    why: 'one workgroup-memory load per lane (different addresses)',
    fmas: 1,
    workgroup: true,
    body: `    let s = tile[(k + lid) % 256u];\n${each((i) => `    a${i} = fma(a${i}, s, b);`)}`,
  },
  {
    name: 'workgroup, same address',
    why: 'a workgroup-memory load at an address equal in all lanes, per FMA',
    fmas: 1,
    workgroup: true,
    body: each((i) => `    a${i} = fma(a${i}, tile[(k + ${i}u) % 256u], b);`),
  },
  {
    name: 'subgroupShuffle',
    why: 'one per-lane load, then a constant-lane shuffle per FMA',
    fmas: 1,
    subgroups: true,
    body: `    let s = src_get(k * 16u + lid % 16u);\n${each((i) => `    a${i} = fma(a${i}, subgroupShuffle(s, ${i % Math.max(1, lanes)}u), b);`)}`,
  },
  {
    name: 'subgroupBroadcast',
    why: 'the same with subgroupBroadcast (the lane a constant)',
    fmas: 1,
    subgroups: true,
    body: `    let s = src_get(k * 16u + lid % 16u);\n${each((i) => `    a${i} = fma(a${i}, subgroupBroadcast(s, ${i % Math.max(1, lanes)}u), b);`)}`,
  },
];

const wg = 64;
const groups = 2048;
console.log('probe                      GFLOP/s  what it measures');
for (const p of probes) {
  if (p.subgroups && !hasSubgroups) {
    console.log(`${p.name.padEnd(26)} ${'-'.padStart(7)}  no subgroups feature`);
    continue;
  }
  const out = zeros([groups * wg]);
  const body = `${p.workgroup ? 'var<workgroup> tile: array<f32, 256>;' : ''}
@compute @workgroup_size(${wg}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
${acc}
  let b = f32(gid.x) * 1e-9 + 0.999;
${p.workgroup ? `  for (var t = lid; t < 256u; t += ${wg}u) { tile[t] = f32(t) * 1e-3; }\n  workgroupBarrier();` : ''}
  for (var k = 0u; k < u.K; k++) {
${p.body}
  }
  out_set(gid.x, ${Array.from({ length: A }, (_, i) => `a${i}`).join(' + ')});
}`;
  const run = () =>
    runKernel({
      name: 'probe',
      body,
      inputs: p.body.includes('src_') ? { src } : {},
      outputs: { out },
      uniforms: { K: ['u32', steps] },
      workgroups: [groups, 1, 1],
    });
  run();
  await sync();
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    run();
    await sync();
    times.push(performance.now() - t);
  }
  const ms = times.sort((x, y) => x - y)[2];
  const flop = 2 * A * p.fmas * steps * groups * wg;
  console.log(`${p.name.padEnd(26)} ${(flop / ms / 1e6).toFixed(1).padStart(7)}  ${p.why}`);
  out.dispose();
}
process.exit(0);
