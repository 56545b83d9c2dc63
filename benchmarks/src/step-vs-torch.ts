/**
 * `pnpm bench -- --only step`: whole training steps of CXR and PyTorch (CPU) on the same shapes,
 * back to back in the same run, and the ratio. ResNet-18 at 64 px batch 16 (the CLI's default
 * job) and VGG16 at 224 px batch 8, each with a 2-class head, Adam (lr 1e-3), cross-entropy, the
 * loss and the argmax read back every step as the CLI does. Rounds alternate CXR and PyTorch so a
 * change in the machine's load hits both; PyTorch runs in its own process (Debian's
 * /usr/bin/python3, 2 threads) while CXR's device idles.
 *
 * On a shared machine the wall-clock ratio is unreliable both ways: PyTorch's OpenMP threads
 * collapse under oversubscription (a 121 ms step took 8-10 s at load average 15). So each step's
 * CPU time is also recorded (CXR: the driver's threads, not the busy-polling main thread;
 * PyTorch: its process, OpenMP spinning included) and divided by the cores: a rough estimate of
 * the step on idle cores. Quote the wall-clock ratio from a quiet run, with the load average.
 *
 * Standalone: `pnpm exec tsx src/step-vs-torch.ts [--quick] [--models resnet18,vgg16,resnet18-224] [--rounds N] [--torch-passive]`.
 */
import { spawnSync } from 'node:child_process';
import { driverCpuNs } from './driverCpu.ts';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { isMain } from './isMain.ts';
import { destroyDevice, getDevice, hasDevice, sync } from '@cxr/tensor';
import { trainStepRunner } from './step.ts';
import { runtimeBlasPy } from './torchBlas.ts';

export interface StepCase {
  arch: string;
  size: number;
  batch: number;
  warmup: number;
  steps: number;
}

export const stepCases = (quick: boolean): Record<string, StepCase> => ({
  resnet18: { arch: 'resnet18', size: 64, batch: 16, warmup: 2, steps: quick ? 3 : 6 },
  vgg16: { arch: 'vgg16', size: 224, batch: 8, warmup: 1, steps: quick ? 1 : 2 },
  // The study's input size; only when asked for (--models resnet18-224): ~2.5 s a step on lavapipe.
  'resnet18-224': { arch: 'resnet18', size: 224, batch: 16, warmup: 1, steps: quick ? 2 : 3 },
});

/** The models run when none are named. */
const defaultModels = ['resnet18', 'vgg16'];

export interface StepVsTorchRow {
  bench: 'step';
  shape: string;
  unit: 'ms';
  cxr: number;
  ms: number;
  best: number;
  torch?: number;
  ratio?: number;
  note?: string;
  /** Per round: wall-clock ms per step, and CPU ms per step (CXR: driver threads; PyTorch: process). */
  rounds: { cxr: number[]; cxrCpu: number[]; torch: number[] | null; torchCpu: number[] | null; load: number }[];
  /** Median CPU ms per step divided by the core count: the step on otherwise idle cores, roughly. */
  cxrIdleEstimate: number;
  torchIdleEstimate?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const torchScript = `
import json, sys, time, torch, torchvision
${runtimeBlasPy}
torch.set_num_threads(2)
torch.manual_seed(0)
c = json.loads(sys.argv[1])
cfg = torch.__config__.show()
info = {"torch": torch.__version__, "threads": torch.get_num_threads(),
        "blas": runtime_blas(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "onednn": next((l.strip() for l in cfg.splitlines() if "MKL-DNN" in l or "oneDNN" in l), "?")}
classes = 2
m = getattr(torchvision.models, c["arch"])(num_classes=classes).train()
opt = torch.optim.Adam(m.parameters(), lr=1e-3)
x = torch.rand(c["batch"], 3, c["size"], c["size"]) * 2 - 1
y = torch.tensor([(i * 7) % classes for i in range(c["batch"])])
def step():
    logits = m(x)
    l = torch.nn.functional.cross_entropy(logits, y)
    opt.zero_grad(set_to_none=True)
    l.backward()
    opt.step()
    l.item(); logits.detach().argmax(1).tolist()
for _ in range(c["warmup"]): step()
times = []
cpu = []
for _ in range(c["steps"]):
    t0 = time.perf_counter(); c0 = time.process_time(); step()
    times.append((time.perf_counter() - t0) * 1e3); cpu.append((time.process_time() - c0) * 1e3)
info["ms"] = times
info["cpuMs"] = cpu
print(json.dumps(info))
`;
import { flag, numberOption, option } from './cliArgs.ts';

export interface TorchInfo {
  torch: string;
  threads: number;
  blas: string;
  mkldnn: boolean;
  onednn: string;
  ms: number[];
  cpuMs: number[];
}

/** CPU seconds of the driver's threads (driverCpu.ts); leaves out CXR's JS-side work, a few percent of a step: a lower bound. */
const workerCpuSeconds = (): number => driverCpuNs() / 1e9;

function torchSteps(c: StepCase, passive: boolean): TorchInfo | { error: string } {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return { error: `${py} not found` };
  // passive: OpenMP threads sleep instead of spinning between parallel regions, so PyTorch's CPU
  // time is its work even on a loaded machine (not its stock setting: say so when quoting it).
  const env = passive ? { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' } : process.env;
  const r = spawnSync(py, ['-c', torchScript, JSON.stringify(c)], { encoding: 'utf8', timeout: 20 * 60_000, env });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || '').trim().split('\n').pop() ?? 'failed' };
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchInfo;
}

async function cxrSteps(c: StepCase): Promise<{ ms: number[]; cpuMs: number[] }> {
  const runner = trainStepRunner({ arch: c.arch, batch: c.batch, size: c.size });
  try {
    for (let i = 0; i < c.warmup; i++) await runner.step();
    const ms: number[] = [];
    const cpuMs: number[] = [];
    for (let i = 0; i < c.steps; i++) {
      const t0 = performance.now();
      const c0 = workerCpuSeconds();
      await runner.step();
      ms.push(performance.now() - t0);
      cpuMs.push((workerCpuSeconds() - c0) * 1e3);
    }
    return { ms, cpuMs };
  } finally {
    runner.dispose();
    await sync();
  }
}

export async function benchStepVsTorch(
  options: { quick?: boolean; models?: string[]; rounds?: number; torchPassive?: boolean; log?: (m: string) => void } = {},
): Promise<StepVsTorchRow[]> {
  const log = options.log ?? ((m: string) => console.log(m));
  const quick = !!options.quick;
  const all = stepCases(quick);
  const models = options.models ?? defaultModels;
  const rounds = options.rounds ?? (quick ? 1 : 2);
  const ownDevice = !hasDevice();
  await getDevice();
  log(`  step: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); ${rounds} round(s) of CXR then PyTorch per model`);
  const rows: StepVsTorchRow[] = [];
  let torchDesc = '';
  for (const name of models) {
    const c = all[name];
    if (!c) throw new Error(`step: unknown model ${JSON.stringify(name)} (known: ${Object.keys(all).join(', ')})`);
    const rs: StepVsTorchRow['rounds'] = [];
    for (let r = 0; r < rounds; r++) {
      const load = loadavg()[0];
      const { ms: cxr, cpuMs: cxrCpu } = await cxrSteps(c);
      const t = torchSteps(c, !!options.torchPassive);
      const torch = 'error' in t ? null : t.ms;
      const torchCpu = 'error' in t ? null : t.cpuMs;
      if ('error' in t) log(`  step ${name}: PyTorch skipped: ${t.error}`);
      else
        torchDesc = `PyTorch ${t.torch}, ${t.threads} threads${options.torchPassive ? ', OMP_WAIT_POLICY=PASSIVE' : ''}, BLAS: ${t.blas}, convolutions through ${t.mkldnn ? t.onednn : 'native kernels (no mkldnn)'}`;
      rs.push({ cxr, cxrCpu, torch, torchCpu, load });
      log(
        `  step ${name} round ${r + 1}: CXR ${median(cxr).toFixed(0)} ms (CPU ${median(cxrCpu).toFixed(0)})${torch ? `, PyTorch ${median(torch).toFixed(0)} ms (CPU ${median(torchCpu!).toFixed(0)}): ${(median(cxr) / median(torch)).toFixed(2)}x wall, ${(median(cxrCpu) / median(torchCpu!)).toFixed(2)}x CPU` : ''}, load ${load.toFixed(1)}`,
      );
    }
    const cxrAll = rs.flatMap((x) => x.cxr);
    const torchAll = rs.flatMap((x) => x.torch ?? []);
    const cxrMed = median(cxrAll);
    const torchMed = torchAll.length ? median(torchAll) : undefined;
    const perRound = rs.filter((x) => x.torch).map((x) => (median(x.cxr) / median(x.torch!)).toFixed(2));
    const cores = cpus().length;
    const cxrIdleEstimate = median(rs.flatMap((x) => x.cxrCpu)) / cores;
    const torchCpuAll = rs.flatMap((x) => x.torchCpu ?? []);
    const torchIdleEstimate = torchCpuAll.length ? median(torchCpuAll) / Math.min(cores, 2) : undefined;
    rows.push({
      cxrIdleEstimate,
      torchIdleEstimate,
      bench: 'step',
      shape: `${c.arch} ${c.size}px b${c.batch} Adam`,
      unit: 'ms',
      cxr: cxrMed,
      ms: cxrMed,
      best: Math.min(...cxrAll),
      torch: torchMed,
      ratio: torchMed ? cxrMed / torchMed : undefined,
      note: torchMed
        ? `CXR takes ${(cxrMed / torchMed).toFixed(2)}x PyTorch's time (rounds: ${perRound.join(', ')}); CPU time per step / cores: ${cxrIdleEstimate.toFixed(0)} vs ${torchIdleEstimate!.toFixed(0)} ms (${(cxrIdleEstimate / torchIdleEstimate!).toFixed(2)}x)`
        : 'PyTorch not measured',
      rounds: rs,
    });
  }
  if (torchDesc) log(`  step baseline: ${torchDesc}`);
  if (ownDevice) await destroyDevice();
  return rows;
}

if (isMain(import.meta.url, 'step-vs-torch.ts')) {
  const rows = await benchStepVsTorch({
    quick: flag('--quick'),
    models: option('--models')?.split(','),
    rounds: numberOption('--rounds'),
    torchPassive: flag('--torch-passive'),
  });
  for (const r of rows) console.log(`${r.shape}: CXR ${r.cxr.toFixed(0)} ms, PyTorch ${r.torch?.toFixed(0) ?? '-'} ms: ${r.note}`);
  if (flag('--json')) console.log(JSON.stringify(rows));
}
