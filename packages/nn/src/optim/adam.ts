import * as T from '@cxr/tensor';
import type { Tensor } from '@cxr/tensor';
import type { Parameter } from '../autograd/tape.ts';
import { Optimizer, type ParamGroup, type ParamState, type ParamsArg, type StepOptions } from './optimizer.ts';

export interface AdamOptions {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  /** AdamW: p ← p·(1 - lr·wd) instead of adding wd·p to the gradient. */
  decoupledWeightDecay: boolean;
}

/**
 * torch.optim.Adam / AdamW (amsgrad off): m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g²,
 * p -= (lr / (1-β1ᵗ)) · m / (√v / √(1-β2ᵗ) + eps). The update is @cxr/tensor's fused `adamStep`;
 * this class keeps the groups, the moments and the step counts.
 */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: ParamsArg<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, decoupledWeightDecay: false, ...options });
  }

  protected override validate(g: ParamGroup<AdamOptions>, gi: number): void {
    super.validate(g, gi);
    const [b1, b2] = g.betas;
    if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw new Error(`${this.constructor.name}: group ${gi}: betas must be in [0, 1), got ${g.betas}`);
    if (!(g.eps >= 0) || !(g.weightDecay >= 0)) throw new Error(`${this.constructor.name}: group ${gi}: eps and weightDecay must be >= 0`);
  }

  protected update(p: Parameter, grad: Tensor, g: ParamGroup<AdamOptions>, s: ParamState, o: StepOptions): void {
    if (!s.exp_avg) {
      s.step = 0;
      s.exp_avg = T.keep(T.zeros(p.shape));
      s.exp_avg_sq = T.keep(T.zeros(p.shape));
    }
    s.step = (s.step as number) + 1;
    T.adamStep(p, grad, s.exp_avg as Tensor, s.exp_avg_sq as Tensor, { ...g, step: s.step, gradScale: o.gradScale, skipIf: o.skipIf });
  }
}

/** AdamW: Adam with decoupled weight decay (default 0.01, as PyTorch). */
export class AdamW extends Adam {
  constructor(params: ParamsArg<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { weightDecay: 0.01, ...options, decoupledWeightDecay: true });
  }
}
