/**
 * Conv benchmark: the conv layers of VGG16 and ResNet-18 at batch 8 (224x224 inputs), forward,
 * backward-input and backward-weight in GFLOP/s, next to PyTorch (CPU, 2 threads, /usr/bin/python3)
 * on the same shapes in the same run. Identical layers are measured once (the note says how often
 * the network has them). The two issue targets (ResNet-like 8x64x56x56 64→64 3x3 and VGG-like
 * 8x128x112x112 128→128 3x3) are flagged with pass/fail against 12 (forward) / 8 (backward) GFLOP/s.
 *
 * `benchConv({ quick })` is called by run.ts; CXR_BENCH_QUICK=1 (or quick) keeps the targets at
 * batch 8 and runs a few other layers at batch 1. Standalone: `pnpm exec tsx src/conv.ts`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isMain } from './isMain.ts';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, destroyDevice, getDevice, hasDevice, rand, sync, type Tensor } from '@cxr/tensor';

interface Layer {
  net: string;
  name: string;
  N: number;
  C: number;
  O: number;
  H: number;
  k: number;
  s: number;
  p: number;
  count: number;
  target?: 'resnet-like' | 'vgg-like';
}

export interface ConvRow {
  bench: 'conv';
  shape: string;
  unit: 'GFLOP/s';
  cxr: number;
  ms: number;
  torch?: number;
  ratio?: number;
  note?: string;
  pass: 'forward' | 'backward-input' | 'backward-weight';
  layer: string;
  gflop: number;
  target?: { name: string; min: number; met: boolean };
}

function layers(batch: number): Layer[] {
  const vgg: [number, number, number, number][] = [
    [3, 64, 224, 1],
    [64, 64, 224, 1],
    [64, 128, 112, 1],
    [128, 128, 112, 1],
    [128, 256, 56, 1],
    [256, 256, 56, 2],
    [256, 512, 28, 1],
    [512, 512, 28, 2],
    [512, 512, 14, 3],
  ];
  const out: Layer[] = vgg.map(([C, O, H, count]) => ({
    net: 'VGG16',
    name: `vgg16 ${C}→${O} 3x3 @${H}`,
    N: batch,
    C,
    O,
    H,
    k: 3,
    s: 1,
    p: 1,
    count,
    target: C === 128 && O === 128 && H === 112 ? ('vgg-like' as const) : undefined,
  }));
  return [...out, ...resnetLayers(batch, 224)];
}

/** ResNet-18's conv layers for `input`-pixel images (224: layer1 at 56 px; 64, the CLI's default: at 16 px). */
function resnetLayers(batch: number, input: number): Layer[] {
  const h1 = input / 4;
  const res: Layer[] = [
    { net: 'ResNet-18', name: `resnet18 conv1 3→64 7x7/2 @${input}`, N: batch, C: 3, O: 64, H: input, k: 7, s: 2, p: 3, count: 1 },
    {
      net: 'ResNet-18',
      name: `resnet18 layer1 64→64 3x3 @${h1}`,
      N: batch,
      C: 64,
      O: 64,
      H: h1,
      k: 3,
      s: 1,
      p: 1,
      count: 4,
      target: h1 === 56 ? 'resnet-like' : undefined,
    },
  ];
  for (const [C, O, H] of [
    [64, 128, h1],
    [128, 256, h1 / 2],
    [256, 512, h1 / 4],
  ]) {
    res.push({ net: 'ResNet-18', name: `resnet18 ${C}→${O} 3x3/2 @${H}`, N: batch, C, O, H, k: 3, s: 2, p: 1, count: 1 });
    res.push({ net: 'ResNet-18', name: `resnet18 ${O}→${O} 3x3 @${H / 2}`, N: batch, C: O, O, H: H / 2, k: 3, s: 1, p: 1, count: 3 });
    res.push({ net: 'ResNet-18', name: `resnet18 downsample ${C}→${O} 1x1/2 @${H}`, N: batch, C, O, H, k: 1, s: 2, p: 0, count: 1 });
  }
  return res;
}

const outSize = (l: Layer) => Math.floor((l.H + 2 * l.p - l.k) / l.s) + 1;
const flopsOf = (l: Layer) => 2 * l.N * l.O * outSize(l) ** 2 * l.C * l.k * l.k;

async function timeIt(fn: () => Tensor, gflop: number): Promise<number> {
  fn().dispose(); // warm-up: compiles the pipeline and touches the buffers
  await sync();
  const reps = gflop > 20 ? 1 : gflop > 3 ? 2 : 4;
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    await sync();
    const t0 = performance.now();
    const t = fn();
    await sync();
    times.push(performance.now() - t0);
    t.dispose();
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const torchScript = `
import json, sys, time, torch
import torch.nn.functional as F
torch.set_num_threads(2)
out = {"torch": torch.__version__, "results": []}
for c in json.loads(sys.argv[1]):
    x = torch.randn(c["N"], c["C"], c["H"], c["H"]); w = torch.randn(c["O"], c["C"], c["k"], c["k"])
    y = F.conv2d(x, w, None, c["s"], c["p"])
    dy = torch.randn_like(y)
    def bwd(mask):
        return torch.ops.aten.convolution_backward(dy, x, w, None, [c["s"]] * 2, [c["p"]] * 2, [1, 1], False, [0, 0], 1, mask)
    fns = {"forward": lambda: F.conv2d(x, w, None, c["s"], c["p"]),
           "backward-input": lambda: bwd([True, False, False]),
           "backward-weight": lambda: bwd([False, True, False])}
    r = {"name": c["name"]}
    with torch.no_grad():
        for k, f in fns.items():
            f()
            ts = []
            t_start = time.perf_counter()
            while len(ts) < 3 or (time.perf_counter() - t_start < 0.5 and len(ts) < 20):
                t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
            ts.sort()
            r[k] = ts[len(ts) // 2] * 1e3
    out["results"].append(r)
print(json.dumps(out))
`;

function torchTimes(ls: Layer[]): { torch: string; results: Record<string, number | string>[] } | null {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) {
    console.warn('conv bench: /usr/bin/python3 missing, no PyTorch baseline');
    return null;
  }
  const r = spawnSync(py, ['-c', torchScript, JSON.stringify(ls)], { encoding: 'utf8', timeout: 20 * 60_000, maxBuffer: 16 << 20 });
  if (r.status !== 0) {
    console.warn(`conv bench: PyTorch baseline skipped: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** `resnet64`: only ResNet-18's layers at 64 px, batch 16 (the default job's step), each once. */
export async function benchConv(options: { quick?: boolean; resnet64?: boolean; noTorch?: boolean } = {}): Promise<ConvRow[]> {
  const quick = options.quick || process.env.CXR_BENCH_QUICK === '1';
  let ls = layers(8);
  if (options.resnet64) {
    ls = resnetLayers(16, 64);
  } else if (quick) {
    const small = layers(1).filter((l) => !l.target && /vgg16 (3|256)→|conv1|3x3\/2 @56|downsample 64/.test(l.name));
    ls = [...ls.filter((l) => l.target), ...small];
  }
  const opened = !hasDevice();
  if (opened) await getDevice({ lowerMainThreadPriority: true });
  const rows: ConvRow[] = [];
  for (const l of ls) {
    const x = rand([l.N, l.C, l.H, l.H], { seed: 1, low: -1, high: 1 });
    const w = rand([l.O, l.C, l.k, l.k], { seed: 2, low: -1, high: 1 });
    const oh = outSize(l);
    const dy = rand([l.N, l.O, oh, oh], { seed: 3, low: -1, high: 1 });
    const opts = { stride: l.s, padding: l.p };
    const gflop = flopsOf(l) / 1e9;
    const passes = {
      forward: () => conv2d(x, w, null, opts),
      'backward-input': () => conv2dBackwardInput(dy, w, x.shape, opts),
      'backward-weight': () => conv2dBackwardWeight(dy, x, w.shape, opts),
    } as const;
    for (const [pass, fn] of Object.entries(passes) as [ConvRow['pass'], () => Tensor][]) {
      const ms = await timeIt(fn, gflop);
      const rate = gflop / (ms / 1e3);
      const row: ConvRow = {
        bench: 'conv',
        pass,
        layer: l.name,
        shape: `${pass} ${l.name} N=${l.N}`,
        unit: 'GFLOP/s',
        cxr: rate,
        ms,
        gflop,
        note: l.count > 1 ? `x${l.count} in ${l.net}` : undefined,
      };
      if (l.target && l.N === 8) {
        const min = pass === 'forward' ? 12 : 8;
        row.target = { name: l.target, min, met: rate >= min };
        row.note = [row.note, `target ${l.target} >= ${min}: ${rate >= min ? 'met' : 'NOT met'}`].filter(Boolean).join('; ');
      }
      rows.push(row);
      console.log(`  conv ${row.shape}: ${rate.toFixed(2)} GFLOP/s (${ms.toFixed(1)} ms)`);
    }
    for (const t of [x, w, dy]) t.dispose();
  }
  // PyTorch after our runs (it takes both cores); same shapes, same process tree.
  const torch = options.noTorch ? null : torchTimes(ls);
  if (torch) {
    for (const row of rows) {
      const r = torch.results.find((t) => t.name === row.layer);
      const ms = r?.[row.pass];
      if (typeof ms === 'number') {
        row.torch = row.gflop / (ms / 1e3);
        row.ratio = row.cxr / row.torch;
      }
    }
    console.log(`  conv: PyTorch ${torch.torch} (oneDNN, 2 threads) on the same shapes`);
  }
  if (opened) await destroyDevice();
  return rows;
}

function printTable(rows: ConvRow[]): void {
  const head = ['pass', 'layer', 'N', 'CXR GFLOP/s', 'ms', 'PyTorch GFLOP/s', 'CXR/PyTorch', 'note'];
  const body = rows.map((r) => [
    r.pass,
    r.layer,
    r.shape.split('N=')[1],
    r.cxr.toFixed(2),
    r.ms.toFixed(1),
    r.torch?.toFixed(1) ?? '',
    r.ratio?.toFixed(3) ?? '',
    r.note ?? '',
  ]);
  const wd = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (c: string[]) => '| ' + c.map((s, i) => s.padEnd(wd[i])).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + wd.map((x) => '-'.repeat(x + 2)).join('|') + '|');
  for (const b of body) console.log(line(b));
}

if (isMain(import.meta.url, 'conv.ts')) {
  benchConv({ quick: process.argv.includes('--quick'), resnet64: process.argv.includes('--resnet64'), noTorch: process.argv.includes('--no-torch') })
    .then(printTable)
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
