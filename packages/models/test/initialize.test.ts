import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { BatchNorm2d, Conv2d, Linear, Module, withoutInit } from '@cxr/nn';
import { applyHead, createModel, torchvisionInit } from '../src/index.ts';

class VggLike extends Module {
  conv: Conv2d;
  bn = new BatchNorm2d(4);
  fc: Linear;
  constructor(g: T.Generator) {
    super();
    this.conv = new Conv2d(3, 4, 3, { padding: 1, generator: g });
    this.fc = new Linear(16, 5, { generator: g });
    torchvisionInit(this, { linearStd: 0.01, generator: g });
  }
}

/** Whether every drawn tensor (conv and linear weights, the linear's bias) is zero; batch norm's ones are not drawn. */
async function drawnAllZero(m: Module): Promise<boolean> {
  for (const [k, t] of m.stateDict()) {
    if (t.shape.length < 2 && k !== 'fc.bias') continue;
    if ((await t.toArray()).some((v) => v !== 0)) return false;
  }
  return true;
}

describe('models built without initial values', () => {
  beforeAll(async () => {
    await T.getDevice();
  });
  afterAll(() => T.destroyDevice());

  it('createModel(initialize: false): zeros, and the generator where a drawn build leaves it (a head drawn after is equal)', async () => {
    const drawn = new T.Generator(11);
    const skipped = new T.Generator(11);
    const a = createModel('resnet18', { generator: drawn });
    const b = createModel('resnet18', { generator: skipped, initialize: false });
    expect(skipped.calls).toBe(drawn.calls);
    expect(await drawnAllZero(b)).toBe(true);
    expect(await drawnAllZero(a)).toBe(false);
    applyHead(a, 'mlp:7', 2, drawn);
    applyHead(b, 'mlp:7', 2, skipped);
    for (const k of ['fc.0.weight', 'fc.3.bias']) {
      expect(Array.from(await b.stateDict().get(k)!.toArray()), k).toEqual(Array.from(await a.stateDict().get(k)!.toArray()));
    }
  }, 120_000); // reads back two ResNet-18s

  it("torchvisionInit skipped moves the generator by its own draws (VGG's linears included)", () => {
    const drawn = new T.Generator(5);
    const skipped = new T.Generator(5);
    new VggLike(drawn);
    withoutInit(() => new VggLike(skipped));
    // conv (weight, bias) + fc (weight, bias) at construction, conv and fc again in torchvisionInit.
    expect(drawn.calls).toBe(6);
    expect(skipped.calls).toBe(6);
  });
});
