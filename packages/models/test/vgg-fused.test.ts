import { describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { F, Linear, type Module, Parameter, withoutInit } from '@cxr/nn';
import { VGG } from '../src/index.ts';
import { useDevice } from '../../tensor/test/helpers.ts';

useDevice();

/** A small VGG (torchvision's layer layout, with and without batch norm) with a small head. */
function smallVgg(batchNorm: boolean): VGG {
  const g = new T.Generator(5);
  const model = withoutInit(() => new VGG([8, 'M', 16, 16, 'M', 512], { batchNorm, generator: g }));
  for (const p of model.classifier.parameters()) p.dispose();
  model.classifier = new Linear(512 * 7 * 7, 3, { generator: g });
  // Values for every weight (withoutInit left zeros): a fixed draw per tensor.
  for (const [, p] of model.namedParameters()) {
    const v = T.randn([...p.shape], { generator: g });
    T.copyInto(p, T.mul(v, 0.2));
    v.dispose();
  }
  return model;
}

async function stepOf(model: Module, x: T.Tensor) {
  const xp = new Parameter(x.view(x.shape));
  const before = T.memoryStats().liveTensors;
  const logits = model.forward(xp);
  const kept = T.memoryStats().liveTensors - before;
  const loss = F.sum(F.mul(logits, logits));
  const values = await logits.toArray();
  loss.backward();
  const grads = [await xp.grad!.toArray(), ...(await Promise.all(model.parameters().map((p) => p.grad!.toArray())))];
  for (const p of model.parameters()) {
    p.grad?.dispose();
    p.grad = null;
  }
  loss.dispose();
  xp.dispose();
  return { kept, values, grads };
}

describe('VGG runs each conv + ReLU (conv + batch norm + ReLU) as one op', () => {
  for (const batchNorm of [false, true])
    it(`same logits and gradients as layer by layer, fewer activations kept${batchNorm ? ' (batch norm)' : ''}`, async () => {
      const model = smallVgg(batchNorm);
      model.eval();
      const x = T.randn([2, 3, 20, 18], { generator: new T.Generator(6) });
      const fused = await stepOf(model, x);
      // A forward hook on `features` (or on one of its layers, as Grad-CAM sets) runs it layer by layer.
      const hook = model.features.registerForwardHook(() => {});
      const plain = await stepOf(model, x);
      hook.remove();
      const camHook = model.features.at(batchNorm ? 1 : 0).registerForwardHook(() => {});
      const oneUnfused = await stepOf(model, x);
      camHook.remove();
      expect(Array.from(fused.values)).toEqual(Array.from(plain.values));
      expect(Array.from(oneUnfused.values)).toEqual(Array.from(plain.values));
      fused.grads.forEach((g, i) => {
        expect(Array.from(g)).toEqual(Array.from(plain.grads[i]!));
        expect(Array.from(oneUnfused.grads[i]!)).toEqual(Array.from(plain.grads[i]!));
      });
      // Four conv + ReLU pairs: one activation fewer each (batch norm's fused op already kept one).
      expect(plain.kept - fused.kept).toBe(4);
      expect(plain.kept - oneUnfused.kept).toBe(3);
      x.dispose();
      for (const p of model.parameters()) p.dispose();
    });
});
