import * as T from '@cxr/tensor';
import { grid1d, linearMain, runKernel, type Tensor } from '@cxr/tensor';
import type { Parameter } from '../autograd/tape.js';
import { Optimizer, type ParamGroup, type ParamState, type ParamsArg } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

const wg = 256;

/**
 * torch.optim.SGD, exactly: d = g + wd·p; with momentum, buf = d on the first step, then
 * buf = μ·buf + (1-dampening)·d; d = nesterov ? d + μ·buf : buf; p -= lr·d.
 * One fused kernel per parameter; lr, μ, wd, dampening are uniforms (no recompiles).
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

  protected update(p: Parameter, grad: Tensor, g: ParamGroup<SGDOptions>, s: ParamState): void {
    const n = p.size;
    const momentum = g.momentum !== 0;
    let first = 0;
    if (momentum && !s.momentum_buffer) { s.momentum_buffer = T.keep(T.Tensor.empty(p.shape, 'float32', 'momentum_buffer')); first = 1; }
    const body = `  if (i >= ${n}u) { return; }
  let pv = p_get(i);
  var d = g_get(i) + u.wd * pv;
${momentum ? `  var b = d;
  if (u.first == 0u) { b = u.momentum * buf_get(i) + (1.0 - u.dampening) * d; }
  buf_set(i, b);
  ${g.nesterov ? 'd = d + u.momentum * b;' : 'd = b;'}` : ''}
  p_set(i, pv - u.lr * d);`;
    runKernel({
      name: 'sgdStep',
      body: linearMain(wg, body),
      inputs: { g: grad },
      outputs: momentum ? { p, buf: s.momentum_buffer as Tensor } : { p },
      uniforms: { lr: ['f32', g.lr], wd: ['f32', g.weightDecay], momentum: ['f32', g.momentum], dampening: ['f32', g.dampening], first: ['u32', first] },
      workgroups: grid1d(n, wg),
    });
  }
}
