// Grad-CAM against PyTorch (forward/backward hooks, test/parity/python/gradcam_parity.py): same
// torchvision random-init weights, same 224 px images (2 for ResNet-18; 1 for VGG16, whose
// forward costs a minute on a CPU adapter), same classes, default target layers
// (ResNet-18 `layer4`, VGG16 `features.29`). Bound from the issue: Pearson ≥ 0.99 and max abs
// difference ≤ 1e-3 between the normalised maps of each image. Also: repeated calls keep memory flat.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { gradCam } from '@cxr/nn';
import { createModel, defaultCamLayer, loadWeights } from '@cxr/models';
import { readNpy } from './npy.ts';
import { parityTempDir, requireOrSkip, runPython } from './python.ts';

const only = process.env.CXR_PARITY_MODELS?.split(',');

const have = await requireOrSkip('Grad-CAM parity (torchvision resnet18/vgg16)');

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

describe.runIf(have)('Grad-CAM matches PyTorch hooks', () => {
  beforeAll(async () => {
    await T.getDevice();
  });
  afterAll(async () => {
    await T.destroyDevice();
  });

  for (const [arch, batch] of (
    [
      ['resnet18', 2],
      ['vgg16', 1],
    ] as const
  ).filter(([a]) => !only || only.includes(a))) {
    it(`${arch}: default layer, 224 px, batch of ${batch}`, async () => {
      const model = createModel(arch);
      const layer = defaultCamLayer(model);
      expect(layer).toBe(arch === 'resnet18' ? 'layer4' : 'features.29');
      const dir = parityTempDir(`gradcam-${arch}`);
      try {
        const ref = JSON.parse(await runPython('gradcam_parity.py', [arch, layer, dir, String(batch)], { timeoutMs: 600_000 }));
        await loadWeights(model, join(dir, 'model.pth'));
        const x = readNpy(join(dir, 'x.npy'));
        const refMaps = readNpy(join(dir, 'maps.npy')).data as Float32Array;
        const input = T.tensor(x.data as Float32Array, x.shape);
        const { maps, logits, classIndex } = gradCam(model, input, { layer, classIndex: ref.classes });
        expect(maps.shape).toEqual([batch, 224, 224]);
        expect([...(await classIndex.toInt32Array())]).toEqual(ref.classes);
        const got = await maps.toArray();
        const plane = 224 * 224;
        for (let n = 0; n < batch; n++) {
          const a = got.subarray(n * plane, (n + 1) * plane);
          const b = refMaps.subarray(n * plane, (n + 1) * plane);
          let maxAbs = 0;
          for (let i = 0; i < plane; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
          const r = pearson(a, b);
          console.log(
            `${arch} image ${n} class ${ref.classes[n]}: Pearson ${r.toFixed(6)}, max abs diff ${maxAbs.toExponential(2)} (${ref.torch32_vs_64_maxabs === null ? '' : `PyTorch float32 vs float64 ${ref.torch32_vs_64_maxabs.toExponential(2)}; `}map > 0.05 on ${(ref.coverage[n] * 100).toFixed(0)}%)`,
          );
          expect(ref.coverage[n], 'the reference map must not be trivial').toBeGreaterThan(0.01);
          expect(r).toBeGreaterThanOrEqual(0.99);
          expect(maxAbs).toBeLessThanOrEqual(1e-3);
        }
        for (const t of [maps, logits, classIndex]) t.dispose();
        // Default class (argmax) agrees with PyTorch's, and the tape, parameters and memory are left
        // as they were (ResNet-18 only: a VGG16 pass costs a minute on a CPU adapter).
        if (arch !== 'resnet18') {
          input.dispose();
          return;
        }
        const trainable = model.parameters().filter((p) => p.requiresGrad).length;
        const live: number[] = [];
        for (let k = 0; k < 3; k++) {
          const r = gradCam(model, input, { layer });
          expect([...(await r.classIndex.toInt32Array())]).toEqual(ref.classes);
          for (const t of [r.maps, r.logits, r.classIndex]) t.dispose();
          await T.sync();
          live.push(T.memoryStats().liveTensors);
          expect(T.memoryStats().inUseBytes).toBeLessThan(1 << 30);
        }
        expect(live[2]).toBe(live[1]);
        expect(model.parameters().filter((p) => p.requiresGrad).length).toBe(trainable);
        expect(model.parameters().every((p) => p.grad === null)).toBe(true);
        input.dispose();
      } finally {
        model.dispose();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 900_000);
  }
});
