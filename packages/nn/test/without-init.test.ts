import { describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { useDevice } from '../../tensor/test/helpers.ts';
import { Conv2d, Linear, initSkipped, kaimingNormal, normal, withoutInit } from '../src/index.ts';

useDevice();

describe('withoutInit', () => {
  it('gives zeros, draws nothing, and leaves the generator where drawing would have: later draws are equal', async () => {
    const drawn = new T.Generator(7);
    const skipped = new T.Generator(7);
    const a = [new Linear(13, 5, { generator: drawn }), new Conv2d(3, 4, 3, { generator: drawn })];
    const aW = kaimingNormal([6, 2], { generator: drawn });
    const aN = normal([3], 0.01, drawn);
    const b = withoutInit(() => {
      expect(initSkipped()).toBe(true);
      return [
        new Linear(13, 5, { generator: skipped }),
        new Conv2d(3, 4, 3, { generator: skipped }),
        kaimingNormal([6, 2], { generator: skipped }),
        normal([3], 0.01, skipped),
      ] as const;
    });
    expect(initSkipped()).toBe(false);
    expect(skipped.calls).toBe(drawn.calls);
    for (const t of [b[0].weight, b[0].bias!, b[1].weight, b[1].bias!, b[2], b[3]]) expect(Array.from(await t.toArray()).every((v) => v === 0)).toBe(true);
    // The drawn ones are not zeros (so the comparison above means something).
    expect(Array.from(await a[0].weight.toArray()).some((v) => v !== 0)).toBe(true);
    expect(Array.from(await aW.toArray()).some((v) => v !== 0)).toBe(true);
    expect(Array.from(await aN.toArray()).some((v) => v !== 0)).toBe(true);
    const next = (g: T.Generator) => new Linear(4, 3, { generator: g }).weight.toArray();
    expect(Array.from(await next(skipped))).toEqual(Array.from(await next(drawn)));
  });

  it('the default generator moves on too; an error inside still ends the skipping', async () => {
    T.manualSeed(3);
    new Linear(5, 2);
    const after = T.defaultGenerator.calls;
    T.manualSeed(3);
    withoutInit(() => new Linear(5, 2));
    expect(T.defaultGenerator.calls).toBe(after);
    expect(() =>
      withoutInit(() => {
        throw new Error('build failed');
      }),
    ).toThrow('build failed');
    expect(initSkipped()).toBe(false);
  });
});
