/**
 * A/B of conv kernel settings on ResNet-18's layers at 64 px, batch 16: variants interleaved in
 * one process (each round runs every variant once per layer and pass), median ms per variant.
 * `CONV_AB='off={"shuffle":false}' pnpm exec tsx src/conv-ab.ts [--only REGEX] [--pass REGEX]
 * [--rounds N] [--variants base,off]`: each variant is a `setConvTiles` setting ('base' = defaults).
 * Besides the median wall time it prints the driver threads' CPU time per call / 2 cores (the
 * time on an idle 2-core machine if both stayed busy), which survives other jobs' load.
 */
import { driverCpuNs } from './driverCpu.ts';
import { trainStepRunner } from './step.ts';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, getDevice, rand, setConvTiles, resetConvTiles, sync, type Tensor } from '@cxr/tensor';
import { flag, option } from './cliArgs.ts';

const allThreads = flag('--all-threads');
const workerCpuNs = () => driverCpuNs(allThreads);

type Variant = () => void;
const variants: Record<string, Variant> = { base: () => resetConvTiles() };
// CONV_AB='name={"shuffle":false};other={"wTO":16}': named setConvTiles settings to compare with the defaults.
for (const arg of (process.env.CONV_AB ?? '').split(';').filter(Boolean)) {
  const at = arg.indexOf('=');
  const settings = JSON.parse(arg.slice(at + 1)) as Parameters<typeof setConvTiles>[0];
  variants[arg.slice(0, at)] = () => {
    resetConvTiles();
    setConvTiles(settings);
  };
}

interface Layer {
  name: string;
  C: number;
  O: number;
  H: number;
  k: number;
  s: number;
  p: number;
  /** Batch (default 16). */
  N?: number;
}
const layers: Layer[] = [
  { name: 'vgg conv1_1 3→64 3x3 @224 (N=1)', C: 3, O: 64, H: 224, k: 3, s: 1, p: 1, N: 1 },
  { name: 'vgg 64→64 3x3 @224 (N=1)', C: 64, O: 64, H: 224, k: 3, s: 1, p: 1, N: 1 },
  { name: 'vgg 512→512 3x3 @14 (N=1)', C: 512, O: 512, H: 14, k: 3, s: 1, p: 1, N: 1 },
  { name: 'conv1 3→64 7x7/2 @64', C: 3, O: 64, H: 64, k: 7, s: 2, p: 3 },
  { name: 'layer1 64→64 3x3 @16', C: 64, O: 64, H: 16, k: 3, s: 1, p: 1 },
  { name: '64→128 3x3/2 @16', C: 64, O: 128, H: 16, k: 3, s: 2, p: 1 },
  { name: '128→128 3x3 @8', C: 128, O: 128, H: 8, k: 3, s: 1, p: 1 },
  { name: 'ds 64→128 1x1/2 @16', C: 64, O: 128, H: 16, k: 1, s: 2, p: 0 },
  { name: '128→256 3x3/2 @8', C: 128, O: 256, H: 8, k: 3, s: 2, p: 1 },
  { name: '256→256 3x3 @4', C: 256, O: 256, H: 4, k: 3, s: 1, p: 1 },
  { name: 'ds 128→256 1x1/2 @8', C: 128, O: 256, H: 8, k: 1, s: 2, p: 0 },
  { name: '256→512 3x3/2 @4', C: 256, O: 512, H: 4, k: 3, s: 2, p: 1 },
  { name: '512→512 3x3 @2', C: 512, O: 512, H: 2, k: 3, s: 1, p: 1 },
  { name: 'ds 256→512 1x1/2 @4', C: 256, O: 512, H: 4, k: 1, s: 2, p: 0 },
  // ResNet-18 at the study's 224 px (batch 16): the stride-1 3x3 layers of each stage.
  { name: 'vgg 128→128 3x3 @112 (N=1)', C: 128, O: 128, H: 112, k: 3, s: 1, p: 1, N: 1 },
  { name: 'vgg 256→256 3x3 @56 (N=1)', C: 256, O: 256, H: 56, k: 3, s: 1, p: 1, N: 1 },
  { name: 'vgg 512→512 3x3 @28 (N=1)', C: 512, O: 512, H: 28, k: 3, s: 1, p: 1, N: 1 },
  { name: 'r224 64→64 3x3 @56', C: 64, O: 64, H: 56, k: 3, s: 1, p: 1 },
  { name: 'r224 128→128 3x3 @28', C: 128, O: 128, H: 28, k: 3, s: 1, p: 1 },
  { name: 'r224 256→256 3x3 @14', C: 256, O: 256, H: 14, k: 3, s: 1, p: 1 },
  { name: 'r224 512→512 3x3 @7', C: 512, O: 512, H: 7, k: 3, s: 1, p: 1 },
  { name: 'r224 conv1 3→64 7x7/2 @224', C: 3, O: 64, H: 224, k: 7, s: 2, p: 3 },
  // Its stride-2 3x3 layers (outputs 28 / 14 / 7 wide).
  { name: 'r224 64→128 3x3/2 @56', C: 64, O: 128, H: 56, k: 3, s: 2, p: 1 },
  { name: 'r224 128→256 3x3/2 @28', C: 128, O: 256, H: 28, k: 3, s: 2, p: 1 },
  { name: 'r224 256→512 3x3/2 @14', C: 256, O: 512, H: 14, k: 3, s: 2, p: 1 },
];

const only = new RegExp(option('--only') ?? '.');
const passRe = new RegExp(option('--pass') ?? '.');
const rounds = Number(option('--rounds') ?? 5);
const names = (option('--variants') ?? Object.keys(variants).join(',')).split(',');
// The variants' order turns every round: in a fixed order the one after another ran measurably
// faster on lavapipe (the same kernel, first or second: up to ~15 % per layer).
const roundOrder = (r: number) => [...names.slice(r % names.length), ...names.slice(0, r % names.length)];

await getDevice({ lowerMainThreadPriority: true });
const cpu0 = process.cpuUsage();
const t0 = performance.now();
if (flag('--step')) {
  // A whole training step (default: the default job's, ResNet-18, 64 px, batch 16, Adam; --arch,
  // --size, --batch), variants alternating step by step.
  const runner = trainStepRunner({
    arch: option('--arch'),
    size: option('--size') ? Number(option('--size')) : undefined,
    batch: option('--batch') ? Number(option('--batch')) : undefined,
  });
  const times: Record<string, number[]> = {};
  const cpuNs: Record<string, number> = {};
  for (const v of names) {
    variants[v]();
    await runner.step(); // compile + warm
    if (!flag('--one-warmup')) await runner.step();
    times[v] = [];
    cpuNs[v] = 0;
  }
  for (let r = 0; r < rounds; r++) {
    for (const v of roundOrder(r)) {
      variants[v]();
      const c = workerCpuNs();
      const t = performance.now();
      await runner.step();
      times[v].push(performance.now() - t);
      cpuNs[v] += workerCpuNs() - c;
    }
  }
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
  for (const v of names)
    console.log(
      `step ${v}: median ${med(times[v]).toFixed(0)} ms (${times[v].map((t) => t.toFixed(0)).join(' ')}), driver CPU ${(cpuNs[v] / rounds / 1e6).toFixed(0)} ms per step`,
    );
  runner.dispose();
}
for (const l of layers.filter((l) => only.test(l.name) && !flag('--step'))) {
  const N = l.N ?? 16;
  const oh = Math.floor((l.H + 2 * l.p - l.k) / l.s) + 1;
  const x = rand([N, l.C, l.H, l.H], { seed: 1, low: -1, high: 1 });
  const w = rand([l.O, l.C, l.k, l.k], { seed: 2, low: -1, high: 1 });
  const dy = rand([N, l.O, oh, oh], { seed: 3, low: -1, high: 1 });
  const opts = { stride: l.s, padding: l.p };
  const gflop = (2 * N * l.O * oh * oh * l.C * l.k * l.k) / 1e9;
  const passes: [string, () => Tensor][] = [
    ['fwd', () => conv2d(x, w, null, opts)],
    ['bwdIn', () => conv2dBackwardInput(dy, w, x.shape, opts)],
    ['bwdW', () => conv2dBackwardWeight(dy, x, w.shape, opts)],
  ];
  for (const [pass, fn] of passes.filter(([p]) => passRe.test(p))) {
    const times: Record<string, number[]> = {};
    const cpuNs: Record<string, number> = {};
    const cpuCalls: Record<string, number[]> = {};
    const firstMs: Record<string, number> = {};
    for (const v of names) {
      variants[v]();
      const t = performance.now();
      fn().dispose(); // compile + warm
      await sync();
      firstMs[v] = performance.now() - t;
      times[v] = [];
      cpuNs[v] = 0;
      cpuCalls[v] = [];
    }
    for (let r = 0; r < rounds; r++) {
      for (const v of roundOrder(r)) {
        variants[v]();
        await sync();
        const c = workerCpuNs();
        const t = performance.now();
        const y = fn();
        await sync();
        times[v].push(performance.now() - t);
        const spent = workerCpuNs() - c;
        cpuNs[v] += spent;
        cpuCalls[v].push(spent);
        y.dispose();
      }
    }
    const med = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
    // cpu: worker CPU-ms per call / 2 cores, i.e. the wall time on an idle 2-core machine if both stayed busy.
    // The median call's CPU as well: sub-millisecond kernels (the 1x1 downsamples) catch other
    // threads' wake-ups in single calls, which the mean carries.
    const cells = names.map((v) => {
      const cpu = cpuNs[v] / rounds / 1e6 / 2;
      const cpuMed = med(cpuCalls[v]) / 1e6 / 2;
      return `${v} ${med(times[v]).toFixed(1)} ms, cpu ${cpu.toFixed(2)} ms ${(gflop / (cpu / 1e3)).toFixed(1)} GF/s (median call ${(gflop / (cpuMed / 1e3)).toFixed(1)}), first ${firstMs[v].toFixed(0)} ms`;
    });
    console.log(`${l.name.padEnd(24)} ${pass.padEnd(6)} ${cells.join(' | ')}`);
  }
  x.dispose();
  w.dispose();
  dy.dispose();
}
const cpu = process.cpuUsage(cpu0);
console.log(`wall ${((performance.now() - t0) / 1e3).toFixed(1)} s, process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`);
process.exit(0);
