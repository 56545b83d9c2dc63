import { describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { F, Linear, type Module, Parameter, ReLU, withoutInit } from '@cxr/nn';
import { VGG } from '../src/index.ts';
import { useDevice } from '../../tensor/test/helpers.ts';

useDevice();

/** A small VGG (torchvision's layer layout, with and without batch norm) with a small head. */
function smallVgg(batchNorm: boolean): VGG {
  const g = new T.Generator(5);
  const model = withoutInit(() => new VGG([8, 'M', 16, 16, 'M', 512], { batchNorm, generator: g }));
  model.classifier.dispose();
  model.classifier = new Linear(512 * 7 * 7, 3, { generator: g });
  // Values for every weight (withoutInit left zeros): a fixed draw per tensor.
  for (const [, p] of model.namedParameters())
    T.scope(() => {
      T.copyInto(p, T.mul(T.randn([...p.shape], { generator: g }), 0.2));
    });
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
  const buffers = await Promise.all(model.namedBuffers().map(([, b]) => (b.dtype === 'int32' ? b.toInt32Array() : b.toArray())));
  for (const p of model.parameters()) {
    p.grad?.dispose();
    p.grad = null;
  }
  loss.dispose();
  xp.dispose();
  return { kept, values, grads, buffers };
}

/** A ReLU subclass with a forward of its own: the fused path must not stand in for it. */
class ScaledRelu extends ReLU {
  override forward(x: T.Tensor): T.Tensor {
    return F.mul(F.relu(x), 1.5);
  }
}

describe('VGG runs each conv + ReLU (conv + batch norm + ReLU) as one op', () => {
  for (const batchNorm of [false, true])
    for (const training of [false, true])
      it(`same logits, gradients${training ? ' and running statistics' : ''} as layer by layer, fewer activations kept (${batchNorm ? 'batch norm, ' : ''}${training ? 'train' : 'eval'})`, async () => {
        const x = T.randn([2, 3, 20, 18], { generator: new T.Generator(6) });
        // Each path on a model of its own (training updates batch norm's running statistics).
        const run = async (hookOn: (m: VGG) => Module | null) => {
          const model = smallVgg(batchNorm);
          model.train(training);
          const hooked = hookOn(model);
          hooked?.registerForwardHook(() => {});
          const r = await stepOf(model, x);
          model.dispose();
          return r;
        };
        const fused = await run(() => null);
        // A forward hook on `features` runs it layer by layer; one on a conv (as Grad-CAM sets) that pair.
        const plain = await run((m) => m.features);
        const oneUnfused = await run((m) => m.features.at(0));
        for (const r of [fused, oneUnfused]) {
          expect(Array.from(r.values)).toEqual(Array.from(plain.values));
          r.grads.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(plain.grads[i]!)));
          r.buffers.forEach((b, i) => expect(Array.from(b)).toEqual(Array.from(plain.buffers[i]!)));
        }
        // Four conv + ReLU pairs: one activation fewer each (batch norm's fused op already kept one).
        expect(plain.kept - fused.kept).toBe(4);
        expect(plain.kept - oneUnfused.kept).toBe(3);
        x.dispose();
      });

  it('a layer whose class overrides forward runs as written', async () => {
    const x = T.randn([2, 3, 20, 18], { generator: new T.Generator(7) });
    const run = async (scaled: boolean, hooked: boolean) => {
      const model = smallVgg(false);
      if (scaled) model.features.set(1, new ScaledRelu());
      if (hooked) model.features.registerForwardHook(() => {});
      const r = await stepOf(model, x);
      model.dispose();
      return r;
    };
    const scaled = await run(true, false);
    const scaledPlain = await run(true, true);
    const unscaled = await run(false, false);
    expect(Array.from(scaled.values)).toEqual(Array.from(scaledPlain.values));
    expect(Array.from(scaled.values)).not.toEqual(Array.from(unscaled.values));
    x.dispose();
  });
});
