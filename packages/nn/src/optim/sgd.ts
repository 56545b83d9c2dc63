import * as T from '@cxr/tensor';
import type { Tensor } from '@cxr/tensor';
import type { Parameter } from '../autograd/tape.ts';
import { Optimizer, type ParamGroup, type ParamState, type ParamsArg, type StepOptions } from './optimizer.ts';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/**
 * torch.optim.SGD, exactly: d = g + wd·p; with momentum, buf = d on the first step, then
 * buf = μ·buf + (1-dampening)·d; d = nesterov ? d + μ·buf : buf; p -= lr·d.
 * The update is @cxr/tensor's fused `sgdStep`; this class keeps the groups and the momentum buffers.
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ParamsArg<SGDOptions>, options: Partial<SGDOptions> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...options });
  }

  protected override validate(g: ParamGroup<SGDOptions>, gi: number): void {
    super.validate(g, gi);
    if (g.momentum < 0 || g.weightDecay < 0) throw new Error(`SGD: group ${gi}: momentum and weightDecay must be >= 0`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) throw new Error(`SGD: group ${gi}: Nesterov momentum requires a momentum and zero dampening`);
  }

  protected update(p: Parameter, grad: Tensor, g: ParamGroup<SGDOptions>, s: ParamState, o: StepOptions): void {
    const fresh = g.momentum !== 0 && !s.momentum_buffer;
    if (fresh) s.momentum_buffer = T.keep(T.Tensor.empty(p.shape, 'float32', 'momentum_buffer'));
    T.sgdStep(p, grad, g.momentum !== 0 ? (s.momentum_buffer as Tensor) : null, { ...g, firstStep: fresh, gradScale: o.gradScale, skipIf: o.skipIf });
  }
}
