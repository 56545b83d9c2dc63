// The loss scaler on parameters paged over many bindings (VGG16's 411 MB classifier weight is 4
// pages on lavapipe; here pages of 1024 elements make a 4000-element weight 4 pages, as VGG16 has).
// With all pages bound at once the fused kernels needed 4 x 4 + 1 = 17 storage bindings, one over
// the limit of 16, and such steps took the unscale path; the kernels now run page by page (5
// bindings), so the fused path takes them, and updates exactly as an unscaled Adam step.
import { describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { randomArray, useDevice } from '../../tensor/test/helpers.ts';
import { Adam, F, GradScaler, Parameter } from '../src/index.ts';

useDevice({ maxBindingBytes: 4096 });

describe('GradScaler with paged parameters', () => {
  it('steps a parameter paged over four bindings through the fused path, as an unscaled Adam step', async () => {
    const values = randomArray(4000, 21, -1, 1);
    const target = randomArray(4000, 22, -1, 1);
    const big = new Parameter(T.tensor(values, [4000]));
    expect(T.lossScaleStepFits(big)).toBe(true);
    const small = new Parameter(T.tensor(values.slice(0, 100), [100]));
    expect(T.lossScaleStepFits(small)).toBe(true);
    const loss = (p: Parameter, t: Float32Array) => F.sum(F.square(F.sub(p, T.tensor(t, [t.length]))));

    const scaler = new GradScaler({ initScale: 1024 });
    const opt = new Adam([big], { lr: 0.01 });
    const r = await scaler.backwardAndStep(loss(big, target), opt);
    r.loss.dispose();
    expect(r.stepped).toBe(true);

    const ref = new Parameter(T.tensor(values, [4000]));
    const refOpt = new Adam([ref], { lr: 0.01 });
    loss(ref, target).backward();
    refOpt.step();
    // The scale is a power of two: the unscaled gradient is exact, so the update is identical.
    expect(Array.from(await big.toArray())).toEqual(Array.from(await ref.toArray()));
  });
});
