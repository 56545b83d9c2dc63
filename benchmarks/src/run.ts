/**
 * `pnpm bench`: matmul GFLOP/s and elementwise GB/s on the WebGPU adapter found, PyTorch (CPU) at
 * the same sizes as a ratio, the effect of lowering the main thread's priority, and the conv and
 * loader benchmarks when those files exist. Prints a table and writes results/<date>-<adapter>.json.
 *
 * Flags: --only matmul|elementwise|conv|loader|upload|priority|torch|step|precision (repeatable, comma-separated),
 *        --quick (fewer sizes and repetitions), --step-models resnet18,vgg16 (which training steps
 *        `step` compares with PyTorch; both by default).
 * Internal: --child-matmul <n> --priority on|off (one measurement in a fresh process, JSON on stdout).
 */
// First: notes which threads are Node's own before any device opens (the step section's CPU column).
import './driverCpu.ts';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readdirSync, readFileSync } from 'node:fs';
import { add, destroyDevice, getDevice, getMatmulTiles, matmul, rand, sync, type Tensor } from '@cxr/tensor';
// Not re-exported by @cxr/tensor's index yet; the same module instance through its real path.
import { autotuneMatmul } from '../../packages/tensor/src/ops/matmul/index.ts';
import { runtimeBlasPy } from './torchBlas.ts';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const only = new Set(args.flatMap((a, i) => (args[i - 1] === '--only' ? a.split(',') : [])));
const want = (s: string) => only.size === 0 || only.has(s);
const quick = flag('--quick');

interface Row {
  bench: string;
  shape: string;
  unit: string;
  cxr: number;
  ms: number;
  best?: number;
  cpuNorm?: number;
  torch?: number;
  ratio?: number;
  note?: string;
}

/**
 * CPU seconds used by this process's threads other than the main JS thread (on a CPU adapter:
 * the driver's worker threads), from /proc. On a machine shared with other work, wall-clock
 * rates drop with the load; work / (worker CPU time / cores) estimates the rate on idle cores.
 */
function workerCpuSeconds(): number | null {
  try {
    let total = 0;
    for (const t of readdirSync('/proc/self/task')) {
      if (t === String(process.pid)) continue;
      const st = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) / 100;
    }
    return total;
  } catch {
    return null;
  }
}

interface Timing {
  median: number;
  best: number;
  cpuPerRun: number | null;
}

/** Median and best of `reps` timed runs of `fn` (each ends with a GPU sync), after `warmup` untimed runs. */
async function timeIt(fn: () => Tensor, reps: number, warmup = 1, minMs = 0): Promise<Timing> {
  for (let i = 0; i < warmup; i++) {
    fn().dispose();
    await sync();
  }
  const times: number[] = [];
  const start = performance.now();
  const cpu0 = workerCpuSeconds();
  for (let i = 0; i < reps || performance.now() - start < minMs; i++) {
    const t0 = performance.now();
    const t = fn();
    await sync();
    times.push(performance.now() - t0);
    t.dispose();
    if (i > 50) break;
  }
  const cpu1 = workerCpuSeconds();
  times.sort((x, y) => x - y);
  return { median: times[Math.floor(times.length / 2)], best: times[0], cpuPerRun: cpu0 === null || cpu1 === null ? null : (cpu1 - cpu0) / times.length };
}

interface MatmulCase {
  name: string;
  M: number;
  N: number;
  K: number;
  batch?: number;
  transB?: boolean;
}

async function benchMatmul(c: MatmulCase, reps: number): Promise<{ gflops: number; best: number; cpuNorm: number | null; ms: number }> {
  const a = rand([c.M, c.K], { seed: 1, low: -1, high: 1 });
  const b = rand(c.transB ? [c.N, c.K] : [c.K, c.N], { seed: 2, low: -1, high: 1 });
  const flops = 2 * c.M * c.N * c.K;
  const t = await timeIt(() => matmul(a, b, { transB: c.transB }), reps, 1, flops > 4e9 ? 0 : 1000);
  a.dispose();
  b.dispose();
  const cores = cpus().length;
  return { gflops: flops / t.median / 1e6, best: flops / t.best / 1e6, cpuNorm: t.cpuPerRun ? flops / (t.cpuPerRun / cores) / 1e9 : null, ms: t.median };
}

const matmulCases = (): MatmulCase[] => {
  const sq = (quick ? [256, 1024] : [256, 512, 1024, 2048]).map((n) => ({ name: `${n}³`, M: n, N: n, K: n }));
  return [...sq, { name: 'VGG fc6 16x25088x4096ᵀ', M: 16, K: 25088, N: 4096, transB: true }];
};

const torchScript = `
import json, sys, time, torch
${runtimeBlasPy}
torch.set_num_threads(2)
cases = json.loads(sys.argv[1])
out = {"torch": torch.__version__, "blas": runtime_blas(), "results": []}
for c in cases:
    if c["kind"] == "matmul":
        a = torch.rand(c["M"], c["K"]) * 2 - 1
        b = torch.rand(c["N"], c["K"]) * 2 - 1 if c.get("transB") else torch.rand(c["K"], c["N"]) * 2 - 1
        f = (lambda: a @ b.t()) if c.get("transB") else (lambda: a @ b)
        work = 2.0 * c["M"] * c["N"] * c["K"]
    else:
        a = torch.rand(c["n"]); b = torch.rand(c["n"])
        f = lambda: a + b
        work = 12.0 * c["n"]
    f()
    times = []
    t_start = time.perf_counter()
    while len(times) < c["reps"] or (time.perf_counter() - t_start < 1.0 and len(times) < 50):
        t0 = time.perf_counter(); f(); times.append(time.perf_counter() - t0)
        if time.perf_counter() - t_start > c.get("budget", 60): break
    times.sort()
    ms = times[len(times) // 2] * 1e3
    out["results"].append({"name": c["name"], "ms": ms, "rate": work / ms / 1e6 if c["kind"] == "matmul" else work / ms / 1e6})
print(json.dumps(out))
`;
import { flag, option } from './cliArgs.ts';

function runTorch(cases: object[]): { torch: string; blas: string; results: { name: string; ms: number; rate: number }[] } | null {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return null;
  const r = spawnSync(py, ['-c', torchScript, JSON.stringify(cases)], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.status !== 0) {
    console.warn(`PyTorch baseline skipped: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** One 1024³ matmul measurement in a fresh process, with the priority lowering on or off. */
async function child(): Promise<void> {
  const n = Number(option('--child-matmul'));
  const lower = option('--priority') === 'on';
  await getDevice({ lowerMainThreadPriority: lower });
  const r = await benchMatmul({ name: `${n}³`, M: n, N: n, K: n }, 7);
  process.stdout.write(JSON.stringify(r) + '\n');
  await destroyDevice();
}

function childRun(n: number, priority: 'on' | 'off'): { gflops: number; best: number; ms: number } | null {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child-matmul', String(n), '--priority', priority], {
    encoding: 'utf8',
    timeout: 5 * 60_000,
  });
  if (r.status !== 0) {
    console.warn(`priority child (${priority}) failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

function describe(c: unknown): string {
  const x = c as Record<string, unknown>;
  return x.kind === 'lanes' ? `lanes ${x.tu}x${x.tv} ${x.uLoad ?? 'uniform'}` : `shared ${x.tm}x${x.tn}/${x.wgM}x${x.wgN}/k${x.tk}`;
}

function table(rows: Row[]): void {
  const head = ['bench', 'shape', 'CXR median', 'best', 'idle-core est.', 'unit', 'ms', 'PyTorch', 'CXR/PyTorch', 'note'];
  const f = (v: number | undefined) => (v === undefined ? '' : v.toFixed(2));
  const body = rows.map((r) => [r.bench, r.shape, f(r.cxr), f(r.best), f(r.cpuNorm), r.unit, r.ms.toFixed(2), f(r.torch), f(r.ratio), r.note ?? '']);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(w[i])).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|');
  for (const b of body) console.log(line(b));
}

async function main(): Promise<void> {
  if (option('--child-matmul')) return child();
  const g = await getDevice();
  const l = g.limits;
  const adapter = g.adapterName;
  console.log(`adapter: ${adapter}`);
  const load0 = loadavg()[0];
  console.log(`host: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${load0.toFixed(2)} at start (other processes skew CPU-adapter figures)`);
  console.log(
    `limits: maxStorageBufferBindingSize ${l.maxStorageBufferBindingSize}, maxBufferSize ${l.maxBufferSize}, ` +
      `maxStorageBuffersPerShaderStage ${l.maxStorageBuffersPerShaderStage}, maxComputeWorkgroupStorageSize ${l.maxComputeWorkgroupStorageSize}, ` +
      `maxComputeInvocationsPerWorkgroup ${l.maxComputeInvocationsPerWorkgroup}, features ${[...g.device.features].join(' ')}`,
  );
  const rows: Row[] = [];
  const extra: Record<string, unknown> = {};
  const torchCases: object[] = [];

  if (want('matmul')) {
    const tune = await autotuneMatmul();
    extra.autotune = tune;
    console.log(
      `  matmul autotune at ${tune.size}³: ${tune.timings.map((t) => `${describe(t.config)} ${t.ms.toFixed(1)} ms`).join(', ')} → ${describe(tune.best)}`,
    );
    for (const c of matmulCases()) {
      const flops = 2 * c.M * c.N * c.K;
      const reps = quick ? 2 : flops > 2e10 ? 3 : 5;
      const r = await benchMatmul(c, reps);
      rows.push({ bench: 'matmul', shape: c.name, unit: 'GFLOP/s', cxr: r.gflops, best: r.best, cpuNorm: r.cpuNorm ?? undefined, ms: r.ms });
      console.log(
        `  matmul ${c.name}: ${r.gflops.toFixed(2)} GFLOP/s median, ${r.best.toFixed(2)} best (${r.ms.toFixed(1)} ms)${r.cpuNorm ? `, ${r.cpuNorm.toFixed(1)} per ${cpus().length} cores of driver CPU time` : ''}`,
      );
      torchCases.push({ kind: 'matmul', ...c, reps });
    }
    extra.matmulConfig = getMatmulTiles();
  }

  if (want('elementwise')) {
    for (const n of quick ? [1 << 20] : [1 << 16, 1 << 20, 1 << 22, 1 << 24]) {
      const a = rand([n], { seed: 3 });
      const b = rand([n], { seed: 4 });
      const t = await timeIt(() => add(a, b), quick ? 3 : 7, 1, 500);
      const ms = t.median;
      const gbs = (12 * n) / ms / 1e6;
      a.dispose();
      b.dispose();
      const name = `add ${n >= 1 << 20 ? `${n >> 20}M` : `${n >> 10}K`}`;
      rows.push({ bench: 'elementwise', shape: name, unit: 'GB/s', cxr: gbs, best: (12 * n) / t.best / 1e6, ms });
      console.log(`  ${name}: ${gbs.toFixed(2)} GB/s (${ms.toFixed(2)} ms)`);
      torchCases.push({ kind: 'add', name, n, reps: 7 });
    }
  }

  // PyTorch in a separate process after our device work, so the two never share the cores.
  if (torchCases.length > 0 && (only.size === 0 || only.has('matmul') || only.has('elementwise') || only.has('torch'))) {
    const t = runTorch(torchCases);
    if (t) {
      extra.torch = { version: t.torch, blas: t.blas, threads: 2 };
      console.log(`PyTorch ${t.torch} (BLAS: ${t.blas}, 2 threads)`);
      for (const r of rows) {
        const m = t.results.find((x) => x.name === r.shape);
        if (m) {
          r.torch = m.rate;
          r.ratio = r.cxr / m.rate;
        }
      }
    }
  }

  if (want('priority')) {
    // Each setting in its own process: the priority, once lowered, cannot be raised again.
    await destroyDevice();
    const n = quick ? 512 : 1024;
    // Alternate the two settings (two rounds) so a change in the machine's load hits both alike.
    const runs = { off: [] as NonNullable<ReturnType<typeof childRun>>[], on: [] as NonNullable<ReturnType<typeof childRun>>[] };
    for (let round = 0; round < (quick ? 1 : 2); round++) {
      for (const p of ['off', 'on'] as const) {
        const r = childRun(n, p);
        if (r) runs[p].push(r);
      }
    }
    const avg = (xs: NonNullable<ReturnType<typeof childRun>>[]) =>
      xs.length === 0
        ? null
        : {
            gflops: xs.reduce((q, x) => q + x.gflops, 0) / xs.length,
            best: Math.max(...xs.map((x) => x.best)),
            ms: xs.reduce((q, x) => q + x.ms, 0) / xs.length,
          };
    const off = avg(runs.off);
    const on = avg(runs.on);
    if (off && on) {
      rows.push({ bench: 'priority', shape: `matmul ${n}³, normal priority`, unit: 'GFLOP/s', cxr: off.gflops, best: off.best, ms: off.ms });
      rows.push({
        bench: 'priority',
        shape: `matmul ${n}³, main thread nice 19`,
        unit: 'GFLOP/s',
        cxr: on.gflops,
        best: on.best,
        ms: on.ms,
        note: `${((on.gflops / off.gflops - 1) * 100).toFixed(0)}% vs normal (median)`,
      });
      extra.priority = { n, off, on, runs };
    }
    await getDevice();
  }

  for (const [key, file, fn] of [
    ['conv', 'conv.ts', 'benchConv'],
    ['loader', 'loader.ts', 'benchLoader'],
    ['upload', 'inputUpload.ts', 'benchInputUpload'],
    ['step', 'step-vs-torch.ts', 'benchStepVsTorch'],
    ['precision', 'step-precision.ts', 'benchPrecision'],
  ] as const) {
    if (!want(key)) continue;
    const path = join(here, file);
    if (!existsSync(path)) {
      console.log(`(${key}: ${file} not present yet, skipped)`);
      continue;
    }
    const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    const f = mod[fn];
    if (typeof f !== 'function') {
      console.log(`(${key}: ${file} has no ${fn}(), skipped)`);
      continue;
    }
    const res = await (f as (o: { quick: boolean; models?: string[] }) => Promise<unknown>)({ quick, models: option('--step-models')?.split(',') });
    extra[key] = res;
    if (!Array.isArray(res) && res && typeof res === 'object') console.log(`  ${key}: ${JSON.stringify(res)}`);
    if (Array.isArray(res)) {
      for (const r of res as Partial<Row>[]) {
        if (typeof r?.cxr === 'number')
          rows.push({
            bench: key,
            shape: String(r.shape ?? ''),
            unit: String(r.unit ?? ''),
            cxr: r.cxr,
            ms: r.ms ?? 0,
            torch: r.torch,
            ratio: r.ratio ?? (r.torch ? r.cxr / r.torch : undefined),
            note: r.note,
          });
      }
    }
  }

  console.log('');
  table(rows);
  console.log(`load average at end: ${loadavg()[0].toFixed(2)}`);
  const date = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
  const slug = adapter
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60);
  const dir = join(here, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${date}-${slug}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        adapter,
        quick,
        cpus: cpus().length,
        loadAverage: { start: load0, end: loadavg()[0] },
        limits: Object.fromEntries(
          Object.entries({
            maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
            maxBufferSize: l.maxBufferSize,
            maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
            maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
            maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
          }),
        ),
        features: [...g.device.features],
        rows,
        ...extra,
      },
      null,
      2,
    ),
  );
  console.log(`\nwrote ${file}`);
  await destroyDevice();
}

main().catch(async (e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  await destroyDevice().catch(() => {});
  process.exit(1);
});
