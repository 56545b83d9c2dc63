// A forward hook on a batch norm inside a ResNet block (or the stem's bn1) must fire and see that
// layer's own output, as in torchvision: the blocks run batch norm + residual + ReLU as one fused
// pass, which never calls forward, so Grad-CAM on `layer4.1.bn2` used to fail with "did not run".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { gradCam, noGrad } from '@cxr/nn';
import { createModel } from '../src/index.ts';

function input(): T.Tensor {
  return T.tensor(
    Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => Math.sin(i * 0.37) + 0.5 * Math.cos(i * 0.011)),
    [1, 3, 64, 64],
  );
}

async function maxAbsDiff(a: T.Tensor, b: T.Tensor): Promise<number> {
  const [x, y] = [await a.toArray(), await b.toArray()];
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

describe('ResNet: hooks on batch norms of the fused blocks', () => {
  beforeAll(async () => {
    await T.getDevice();
  });
  afterAll(async () => {
    await T.destroyDevice();
  });

  for (const [arch, layer, conv] of [
    ['resnet18', 'layer4.1.bn2', 'layer4.1.conv2'],
    ['resnet50', 'layer3.0.bn3', 'layer3.0.conv3'],
    ['resnet18', 'bn1', 'conv1'],
  ] as const) {
    it(`${arch} ${layer}: the hook fires once with the batch norm's output; logits unchanged; Grad-CAM runs`, async () => {
      const model = createModel(arch, { generator: new T.Generator(3) });
      model.eval();
      const x = input();
      const plain = noGrad(() => model.forward(x));
      let bnOut: T.Tensor | null = null;
      let convOut: T.Tensor | null = null;
      let calls = 0;
      const h1 = model.getSubmodule(layer).registerForwardHook((_m, _i, out) => {
        calls++;
        bnOut = out;
      });
      const h2 = model.getSubmodule(conv).registerForwardHook((_m, _i, out) => {
        convOut = out;
      });
      const hooked = noGrad(() => model.forward(x));
      h1.remove();
      h2.remove();
      expect(calls).toBe(1);
      expect(await maxAbsDiff(hooked, plain)).toBeLessThan(1e-4);
      // The hook saw bn(conv output), before the residual and the ReLU (negative values kept).
      const bn = model.getSubmodule(layer);
      const expected = noGrad(() => bn.forward(convOut as unknown as T.Tensor));
      expect(await maxAbsDiff(bnOut as unknown as T.Tensor, expected)).toBeLessThan(1e-5);
      expect(Math.min(...(await expected.toArray()))).toBeLessThan(0);

      const cam = gradCam(model, x, { layer, classIndex: 1 });
      expect(cam.maps.shape).toEqual([1, 64, 64]);
      const m = await cam.maps.toArray();
      expect(m.every((v) => v >= 0 && v <= 1)).toBe(true);
      for (const t of [cam.maps, cam.logits, cam.classIndex, plain, hooked, expected, x]) t.dispose();
    });
  }
});
