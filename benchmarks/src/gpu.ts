// One prepared run for a machine with a real GPU (see benchmarks/README.md): adapter facts, a
// correctness check against the CPU, matmul and conv GFLOP/s, a ResNet-18 training step, and the
// same through PyTorch on the same card (fp32, TF32 off), as ratios. Writes $OUT/gpu-bench.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '@cxr/tensor';
import { crossEntropy, SGD } from '@cxr/nn';
import { createModel } from '@cxr/models';

const out = process.env.OUT ?? 'benchmarks/results';
mkdirSync(out, { recursive: true });
const report: Record<string, unknown> = {};
const log = (...a: unknown[]) => console.log(...a);

// biome-ignore lint/suspicious/noConfusingVoidType: timed bodies either return a tensor to free or nothing
async function time(fn: () => T.Tensor | void, reps: number): Promise<number> {
  const w = fn();
  if (w) w.dispose();
  await T.sync();
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) {
      const y = fn();
      if (y) y.dispose();
    }
    await T.sync();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return best;
}

const gpu = await T.getDevice();
const info = gpu.adapter.info;
const limits = Object.fromEntries(
  [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupsPerDimension',
  ].map((k) => [k, (gpu.limits as unknown as Record<string, number>)[k]]),
);
report.adapter = {
  vendor: info.vendor,
  architecture: info.architecture,
  device: info.device,
  description: info.description,
  features: [...gpu.adapter.features],
  limits,
};
log('adapter', JSON.stringify(report.adapter, null, 1));

// Correctness on this adapter: matmul and conv2d against float64 host loops.
{
  const [M, K, N] = [65, 300, 129];
  const a = T.randn([M, K], { seed: 1 }),
    b = T.randn([N, K], { seed: 2 });
  const c = T.matmul(a, b, { transB: true });
  const [ha, hb, hc] = await Promise.all([a.toArray(), b.toArray(), c.toArray()]);
  let num = 0,
    den = 0;
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += ha[i * K + k] * hb[j * K + k];
      num += (s - hc[i * N + j]) ** 2;
      den += s * s;
    }
  const x = T.randn([2, 5, 13, 17], { seed: 3 }),
    w = T.randn([7, 5, 3, 3], { seed: 4 });
  const y = T.conv2d(x, w, null, { stride: 2, padding: 1 });
  const [hx, hw, hy] = await Promise.all([x.toArray(), w.toArray(), y.toArray()]);
  const [OH, OW] = [y.shape[2], y.shape[3]];
  let cn = 0,
    cd = 0;
  for (let n = 0; n < 2; n++)
    for (let o = 0; o < 7; o++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = 0;
          for (let c2 = 0; c2 < 5; c2++)
            for (let kh = 0; kh < 3; kh++)
              for (let kw = 0; kw < 3; kw++) {
                const ih = oh * 2 - 1 + kh,
                  iw = ow * 2 - 1 + kw;
                if (ih >= 0 && ih < 13 && iw >= 0 && iw < 17) s += hx[((n * 5 + c2) * 13 + ih) * 17 + iw] * hw[((o * 5 + c2) * 3 + kh) * 3 + kw];
              }
          const v = hy[((n * 7 + o) * OH + oh) * OW + ow];
          cn += (s - v) ** 2;
          cd += s * s;
        }
  report.correctness = { matmulRelErr: Math.sqrt(num / den), conv2dRelErr: Math.sqrt(cn / cd) };
  log('correctness', report.correctness);
}

const matmul: Record<string, number> = {};
for (const n of [256, 512, 1024, 2048, 4096]) {
  const a = T.randn([n, n], { seed: 1 }),
    b = T.randn([n, n], { seed: 2 });
  const ms = await time(() => T.matmul(a, b), n <= 1024 ? 20 : 5);
  matmul[n] = (2 * n ** 3) / ms / 1e6;
  log(`matmul ${n}: ${matmul[n].toFixed(0)} GFLOP/s`);
  a.dispose();
  b.dispose();
}
report.matmul = matmul;

const convLayers = [
  { name: 'resnet 64→64 @56', n: 8, c: 64, o: 64, h: 56 },
  { name: 'vgg 128→128 @112', n: 8, c: 128, o: 128, h: 112 },
  { name: 'vgg 512→512 @28', n: 8, c: 512, o: 512, h: 28 },
];
const conv: Record<string, Record<string, number>> = {};
for (const L of convLayers) {
  const x = T.randn([L.n, L.c, L.h, L.h], { seed: 1 }),
    w = T.randn([L.o, L.c, 3, 3], { seed: 2 });
  const dy = T.randn([L.n, L.o, L.h, L.h], { seed: 3 });
  const flops = 2 * L.n * L.o * L.c * 9 * L.h * L.h;
  const opts = { padding: 1 };
  conv[L.name] = {};
  // 'implicitGemm': workgroup-shared tiles (the default on GPUs); 'direct': the register-
  // blocked direct kernels lavapipe uses, for comparison on the same card.
  for (const path of ['implicitGemm', 'direct'] as const) {
    T.setConvTiles({ path });
    const f = await time(() => T.conv2d(x, w, null, opts), 5);
    const bi = await time(() => T.conv2dBackwardInput(dy, w, x.shape, opts), 5);
    const bw = await time(() => T.conv2dBackwardWeight(dy, x, w.shape, opts), 5);
    Object.assign(conv[L.name], {
      [`forward/${path}`]: flops / f / 1e6,
      [`backwardInput/${path}`]: flops / bi / 1e6,
      [`backwardWeight/${path}`]: flops / bw / 1e6,
    });
    T.resetConvTiles();
  }
  conv[L.name].forward = conv[L.name]['forward/implicitGemm'];
  conv[L.name].backwardInput = conv[L.name]['backwardInput/implicitGemm'];
  conv[L.name].backwardWeight = conv[L.name]['backwardWeight/implicitGemm'];
  log(
    `conv ${L.name}: ${Object.entries(conv[L.name])
      .filter(([k]) => k.includes('/'))
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(', ')} GFLOP/s`,
  );
  for (const t of [x, w, dy]) t.dispose();
}
report.conv = conv;

// A ResNet-18 training step at 224 px, batch 16 (forward, backward, SGD).
{
  const model = createModel('resnet18', { generator: new T.Generator(0) });
  model.train();
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = T.randn([16, 3, 224, 224], { seed: 5 });
  const y = T.randint(0, 1000, [16], { seed: 6 });
  const step = () => {
    const l = crossEntropy(model.forward(x), y);
    l.backward();
    opt.step();
    opt.zeroGrad();
    l.dispose();
  };
  step();
  await T.sync();
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) step();
  await T.sync();
  report.resnet18TrainStepMs = (performance.now() - t0) / 5;
  log(`resnet18 train step (batch 16, 224 px): ${(report.resnet18TrainStepMs as number).toFixed(1)} ms`);
}

// PyTorch on the same card, same sizes, fp32 with TF32 off.
const py = `
import json, time, torch
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = 'cuda'
def t(fn, reps):
    fn(); torch.cuda.synchronize(); best = 1e9
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps): fn()
        torch.cuda.synchronize(); best = min(best, (time.perf_counter() - t0) / reps)
    return best * 1000
r = {'device': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'matmul': {}, 'conv': {}}
for n in [256, 512, 1024, 2048, 4096]:
    a = torch.randn(n, n, device=dev); b = torch.randn(n, n, device=dev)
    r['matmul'][n] = 2 * n**3 / t(lambda: a @ b, 20) / 1e6
for name, n, c, o, h in [('resnet 64→64 @56', 8, 64, 64, 56), ('vgg 128→128 @112', 8, 128, 128, 112), ('vgg 512→512 @28', 8, 512, 512, 28)]:
    x = torch.randn(n, c, h, h, device=dev, requires_grad=True); w = torch.randn(o, c, 3, 3, device=dev, requires_grad=True)
    dy = torch.randn(n, o, h, h, device=dev); fl = 2 * n * o * c * 9 * h * h
    f = t(lambda: torch.nn.functional.conv2d(x, w, padding=1), 10)
    bi = t(lambda: torch.nn.grad.conv2d_input(x.shape, w, dy, padding=1), 10)
    bw = t(lambda: torch.nn.grad.conv2d_weight(x, w.shape, dy, padding=1), 10)
    r['conv'][name] = {'forward': fl / f / 1e6, 'backwardInput': fl / bi / 1e6, 'backwardWeight': fl / bw / 1e6}
import torchvision
m = torchvision.models.resnet18().to(dev).train(); opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(16, 3, 224, 224, device=dev); y = torch.randint(0, 1000, (16,), device=dev)
def step():
    l = torch.nn.functional.cross_entropy(m(x), y); l.backward(); opt.step(); opt.zero_grad()
r['resnet18TrainStepMs'] = t(step, 5)
print(json.dumps(r))
`;
try {
  const torch = JSON.parse(execFileSync('python3', ['-c', py], { encoding: 'utf8', timeout: 300_000 }));
  report.torch = torch;
  log(`PyTorch ${torch.torch} on ${torch.device}`);
  for (const n of Object.keys(matmul))
    log(`matmul ${n}: CXR ${matmul[n].toFixed(0)} vs torch ${torch.matmul[n].toFixed(0)} GFLOP/s (${(matmul[n] / torch.matmul[n]).toFixed(3)}x)`);
  for (const name of Object.keys(conv))
    for (const k of ['forward', 'backwardInput', 'backwardWeight']) {
      log(
        `conv ${name} ${k}: CXR ${conv[name][k].toFixed(0)} vs torch ${torch.conv[name][k].toFixed(0)} (${(conv[name][k] / torch.conv[name][k]).toFixed(3)}x)`,
      );
    }
  log(`resnet18 step: CXR ${(report.resnet18TrainStepMs as number).toFixed(1)} ms vs torch ${torch.resnet18TrainStepMs.toFixed(1)} ms`);
} catch (e) {
  report.torchError = String((e as Error).message).slice(0, 2000);
  log('PyTorch baseline failed:', report.torchError);
}
writeFileSync(join(out, 'gpu-bench.json'), JSON.stringify(report, null, 2));
await T.destroyDevice();
