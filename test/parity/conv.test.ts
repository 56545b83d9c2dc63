// PyTorch parity for conv2d: every conv configuration of VGG16 (13) and ResNet-18 (20) with the real
// channel counts at a small spatial size (batch 2), forward output and the gradients dx, dw, db from
// torch.autograd. Skips loudly without torch unless CI / CXR_REQUIRE_PARITY.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  conv2d,
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  destroyDevice,
  getDevice,
  scopeAsync,
  tensor,
  type Conv2dOptions,
} from '@cxr/tensor';
import { mulberry32 } from '@cxr/data';
import { readNpy, writeNpy } from './npy.ts';
import { parityTempDir, requireOrSkip, runPython } from './python.ts';

const have = await requireOrSkip('conv2d parity');

function rand(n: number, seed: number, scale = 1): Float32Array {
  const r = mulberry32(seed).next;
  return Float32Array.from({ length: n }, () => scale * (2 * r() - 1));
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(den === 0 ? num : num / den);
}

interface Case {
  name: string;
  cin: number;
  cout: number;
  hw: number;
  k: number;
  stride: number;
  padding: number;
  bias: boolean;
}

// VGG16 `features` convs (3x3, pad 1, bias); spatial sizes 224/112/56/28/14 scaled to 16/13/11/9/7.
const vggStages: [number, number, number, number][] = [
  [3, 64, 16, 1],
  [64, 64, 16, 1],
  [64, 128, 13, 1],
  [128, 128, 13, 1],
  [128, 256, 11, 1],
  [256, 256, 11, 2],
  [256, 512, 9, 1],
  [512, 512, 9, 2],
  [512, 512, 7, 3],
];
const vgg: Case[] = [];
for (const [cin, cout, hw, reps] of vggStages) {
  for (let r = 0; r < reps; r++) vgg.push({ name: `vgg${vgg.length}_${cin}to${cout}`, cin, cout, hw, k: 3, stride: 1, padding: 1, bias: true });
}
// ResNet-18 convs (no bias): conv1, 4 in layer1, then per layer 2-4: the strided 3x3, three 3x3,
// and the 1x1 stride-2 downsample. Spatial 224/56/28/14/7 scaled to 17/11/9/7/5.
const resnet: Case[] = [{ name: 'r_conv1', cin: 3, cout: 64, hw: 17, k: 7, stride: 2, padding: 3, bias: false }];
for (let i = 0; i < 4; i++) resnet.push({ name: `r_layer1_${i}`, cin: 64, cout: 64, hw: 11, k: 3, stride: 1, padding: 1, bias: false });
for (const [l, cin, cout, hwIn, hw] of [
  [2, 64, 128, 11, 9],
  [3, 128, 256, 9, 7],
  [4, 256, 512, 7, 5],
]) {
  resnet.push({ name: `r_layer${l}_0_conv1`, cin, cout, hw: hwIn, k: 3, stride: 2, padding: 1, bias: false });
  for (let i = 0; i < 3; i++) resnet.push({ name: `r_layer${l}_${i}`, cin: cout, cout, hw, k: 3, stride: 1, padding: 1, bias: false });
  resnet.push({ name: `r_layer${l}_downsample`, cin, cout, hw: hwIn, k: 1, stride: 2, padding: 0, bias: false });
}

const N = 2;
const cases = [...vgg, ...resnet];

describe.runIf(have)('conv2d vs PyTorch (VGG16 and ResNet-18 configurations)', () => {
  const dir = parityTempDir('conv');
  const data = new Map<string, { x: Float32Array; w: Float32Array; b: Float32Array | null; dy: Float32Array; xs: number[]; ws: number[]; ys: number[] }>();

  beforeAll(async () => {
    await getDevice();
    let seed = 1;
    for (const c of cases) {
      const xs = [N, c.cin, c.hw, c.hw];
      const ws = [c.cout, c.cin, c.k, c.k];
      const o = Math.floor((c.hw + 2 * c.padding - c.k) / c.stride) + 1;
      const ys = [N, c.cout, o, o];
      const v = {
        x: rand(
          xs.reduce((p, d) => p * d),
          seed++,
        ),
        w: rand(
          ws.reduce((p, d) => p * d),
          seed++,
          1 / Math.sqrt(c.cin * c.k * c.k),
        ),
        b: c.bias ? rand(c.cout, seed++) : null,
        dy: rand(
          ys.reduce((p, d) => p * d),
          seed++,
        ),
        xs,
        ws,
        ys,
      };
      data.set(c.name, v);
      writeNpy(join(dir, `${c.name}.x.npy`), { dtype: 'float32', shape: xs, data: v.x });
      writeNpy(join(dir, `${c.name}.w.npy`), { dtype: 'float32', shape: ws, data: v.w });
      writeNpy(join(dir, `${c.name}.dy.npy`), { dtype: 'float32', shape: ys, data: v.dy });
      if (v.b) writeNpy(join(dir, `${c.name}.b.npy`), { dtype: 'float32', shape: [c.cout], data: v.b });
    }
    writeFileSync(join(dir, 'cases.json'), JSON.stringify(cases.map((c) => ({ ...c, dilation: 1, groups: 1 }))));
    const t0 = performance.now();
    await runPython('conv_parity.py', [dir], { timeoutMs: 240_000 });
    console.log(`conv parity: PyTorch side took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await destroyDevice();
  });

  it('covers 13 VGG16 and 20 ResNet-18 convolutions', () => {
    expect(vgg.length).toBe(13);
    expect(resnet.length).toBe(20);
  });

  for (const c of cases) {
    it(`${c.name}: ${c.cin}→${c.cout} ${c.k}x${c.k} stride ${c.stride} pad ${c.padding} on ${N}x${c.hw}x${c.hw}`, async () => {
      const v = data.get(c.name)!;
      const opts: Conv2dOptions = { stride: c.stride, padding: c.padding };
      const outs: Record<string, Float32Array> = {};
      await scopeAsync(async () => {
        const x = tensor(v.x, v.xs);
        const w = tensor(v.w, v.ws);
        const b = v.b ? tensor(v.b, [c.cout]) : null;
        const dy = tensor(v.dy, v.ys);
        const res = {
          y: conv2d(x, w, b, opts),
          dx: conv2dBackwardInput(dy, w, v.xs, opts),
          dw: conv2dBackwardWeight(dy, x, v.ws, opts),
          ...(b ? { db: conv2dBackwardBias(dy) } : {}),
        };
        for (const [k, t] of Object.entries(res)) outs[k] = await t.toArray();
      });
      for (const [k, ours] of Object.entries(outs)) {
        const ref = readNpy(join(dir, `${c.name}.${k}.out.npy`));
        const err = relErr(ours, Array.from(ref.data as ArrayLike<number>, Number));
        expect(err, `${c.name} ${k}: relative error ${err}`).toBeLessThan(1e-4);
      }
    });
  }
});
