// PyTorch parity for the non-convolution CNN ops: pooling, batch norm (both modes, running stats
// after two training steps), cross-entropy (weights, label smoothing) and BCE-with-logits,
// forward and gradients (torch.autograd). Skips loudly without torch unless CI / CXR_REQUIRE_PARITY.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adaptiveAvgPool2d,
  adaptiveAvgPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
  batchNorm2d,
  batchNorm2dBackward,
  binaryCrossEntropyWithLogits,
  binaryCrossEntropyWithLogitsBackward,
  crossEntropy,
  crossEntropyBackward,
  destroyDevice,
  getDevice,
  maxPool2d,
  maxPool2dBackward,
  tensor,
  type CrossEntropyOptions,
  type Tensor,
} from '@cxr/tensor';
import { mulberry32 } from '@cxr/data';
import { readNpy, writeNpy } from './npy.ts';
import { parityTempDir, requireOrSkip, runPython } from './python.ts';

const have = await requireOrSkip('cnn-ops parity');

function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = mulberry32(seed).next;
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
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

const size = (s: number[]) => s.reduce((p, d) => p * d, 1);

describe.runIf(have)('CNN ops vs PyTorch', () => {
  const dir = parityTempDir('cnn-ops');
  const inputs = new Map<string, { data: Float32Array | Int32Array; shape: number[] }>();
  const put = (name: string, shape: number[], data: Float32Array | Int32Array) => {
    inputs.set(name, { data, shape });
    writeNpy(join(dir, `${name}.npy`), { dtype: data instanceof Int32Array ? 'int32' : 'float32', shape, data });
  };
  const t = (name: string): Tensor => {
    const v = inputs.get(name)!;
    return tensor(v.data, v.shape, v.data instanceof Int32Array ? 'int32' : 'float32');
  };
  const torchOut = (name: string) => readNpy(join(dir, `${name}.out.npy`));
  const close = async (ours: Tensor, name: string, tol = 1e-5) => {
    const ref = torchOut(name);
    expect(ours.shape, name).toEqual(ref.shape);
    const err = relErr(await ours.toArray(), Array.from(ref.data as ArrayLike<number>, Number));
    expect(err, `${name}: relative error ${err}`).toBeLessThanOrEqual(tol);
  };

  const poolShape = [2, 3, 13, 17];
  const pools = {
    max_k3s2p1: { kernelSize: 3, stride: 2, padding: 1 },
    max_k2s2_ceil: { kernelSize: 2, stride: 2, ceilMode: true },
    max_k3s1p1d2: { kernelSize: 3, stride: 1, padding: 1, dilation: 2 },
  };
  const avgs = {
    avg_k3s2p1: { kernelSize: 3, stride: 2, padding: 1 },
    avg_k3s2p1_excl_ceil: { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false, ceilMode: true },
  };
  const adaptives: Record<string, [string, number[], number]> = {
    adaptive7: ['pool_x', poolShape, 7],
    adaptive1: ['pool_x', poolShape, 1],
    adaptive7_id: ['pool_x7', [2, 5, 7, 7], 7],
  };
  const bnShape = [4, 5, 7, 5];
  const N = 11,
    C = 5;

  beforeAll(async () => {
    await getDevice();
    put('pool_x', poolShape, rand(size(poolShape), 1, -2, 2));
    put('pool_x7', [2, 5, 7, 7], rand(2 * 5 * 49, 2, -2, 2));
    // output shapes for the incoming gradients come from our own forward (checked against torch below)
    const x = t('pool_x');
    let seed = 10;
    for (const [tag, o] of Object.entries(pools)) {
      const r = maxPool2d(x, o);
      put(`${tag}_dy`, [...r.out.shape], rand(r.out.size, seed++));
    }
    for (const [tag, o] of Object.entries(avgs)) {
      const r = avgPool2d(x, o);
      put(`${tag}_dy`, [...r.shape], rand(r.size, seed++));
    }
    for (const [tag, [, s, k]] of Object.entries(adaptives)) put(`${tag}_dy`, [s[0], s[1], k, k], rand(s[0] * s[1] * k * k, seed++));
    put('bn_x1', bnShape, rand(size(bnShape), 20, 1, 4));
    put('bn_x2', bnShape, rand(size(bnShape), 21, -3, 2));
    put('bn_dy', bnShape, rand(size(bnShape), 22));
    put('bn_w', [5], rand(5, 23, 0.5, 1.5));
    put('bn_b', [5], rand(5, 24));
    put('bn_rm', [5], rand(5, 25));
    put('bn_rv', [5], rand(5, 26, 0.5, 2));
    put('ce_z', [N, C], rand(N * C, 30, -4, 4));
    put('ce_labels', [N], Int32Array.from(rand(N, 31, 0, C), Math.floor));
    put('ce_w', [C], rand(C, 32, 0.2, 2));
    put('ce_gnone', [N], rand(N, 33, 0.5, 1.5));
    const bz = rand(N * C, 40, -8, 8);
    bz[0] = 100;
    bz[1] = -100;
    put('bce_z', [N, C], bz);
    put('bce_t', [N, C], rand(N * C, 41, 0, 1));
    put('bce_pw', [C], rand(C, 42, 0.5, 3));
    await runPython('cnn_ops.py', [dir]);
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await destroyDevice();
  });

  it('maxPool2d: output, indices and gradient', async () => {
    for (const [tag, o] of Object.entries(pools)) {
      const x = t('pool_x');
      const { out, indices } = maxPool2d(x, o);
      await close(out, tag, 0);
      expect([...(await indices.toInt32Array())], tag).toEqual([...(torchOut(`${tag}_idx`).data as Int32Array)]);
      await close(maxPool2dBackward(t(`${tag}_dy`), indices, poolShape, o), `${tag}_dx`, 1e-6);
    }
  });

  it('avgPool2d: output and gradient', async () => {
    for (const [tag, o] of Object.entries(avgs)) {
      await close(avgPool2d(t('pool_x'), o), tag);
      await close(avgPool2dBackward(t(`${tag}_dy`), poolShape, o), `${tag}_dx`);
    }
  });

  it('adaptiveAvgPool2d 7x7 and 1x1: output and gradient', async () => {
    for (const [tag, [xn, s, k]] of Object.entries(adaptives)) {
      await close(adaptiveAvgPool2d(t(xn), [k, k]), tag);
      await close(adaptiveAvgPool2dBackward(t(`${tag}_dy`), s), `${tag}_dx`);
    }
  });

  it('batchNorm2d: two training steps (running stats), gradients, then eval', async () => {
    const weight = t('bn_w'),
      bias = t('bn_b'),
      runningMean = t('bn_rm'),
      runningVar = t('bn_rv');
    batchNorm2d(t('bn_x1'), { weight, bias, runningMean, runningVar, training: true });
    const x2 = t('bn_x2');
    const r = batchNorm2d(x2, { weight, bias, runningMean, runningVar, training: true });
    await close(r.out, 'bn_train');
    await close(runningMean, 'bn_rm');
    await close(runningVar, 'bn_rv');
    const g = batchNorm2dBackward(t('bn_dy'), x2, weight, r.saveMean, r.saveInvstd);
    await close(g.dx, 'bn_train_dx', 1e-4);
    await close(g.dweight, 'bn_train_dw', 1e-4);
    await close(g.dbias, 'bn_train_db');
    const x1 = t('bn_x1');
    const e = batchNorm2d(x1, { weight, bias, runningMean, runningVar, training: false });
    await close(e.out, 'bn_eval');
    const ge = batchNorm2dBackward(t('bn_dy'), x1, weight, e.saveMean, e.saveInvstd, { training: false });
    await close(ge.dx, 'bn_eval_dx');
    await close(ge.dweight, 'bn_eval_dw', 1e-4);
    await close(ge.dbias, 'bn_eval_db');
  });

  it('crossEntropy: plain, class weights + label smoothing, sum, none', async () => {
    const cases: Record<string, CrossEntropyOptions> = {
      ce_plain: {},
      ce_weighted_smooth: { weight: t('ce_w'), labelSmoothing: 0.1 },
      ce_weighted_sum: { weight: t('ce_w'), reduction: 'sum' as const },
      ce_smooth_none: { labelSmoothing: 0.2, reduction: 'none' as const },
    };
    for (const [tag, o] of Object.entries(cases)) {
      const z = t('ce_z'),
        y = t('ce_labels');
      await close(crossEntropy(z, y, o), tag);
      await close(crossEntropyBackward(z, y, o, o.reduction === 'none' ? t('ce_gnone') : 1), `${tag}_dz`);
    }
  });

  it('binaryCrossEntropyWithLogits (with ±100 logits): loss and gradient', async () => {
    for (const [tag, o] of Object.entries({ bce_plain: {}, bce_pw: { posWeight: t('bce_pw') } })) {
      const z = t('bce_z'),
        y = t('bce_t');
      await close(binaryCrossEntropyWithLogits(z, y, o), tag);
      await close(binaryCrossEntropyWithLogitsBackward(z, y, o), `${tag}_dz`);
    }
  });
});
