import * as T from '@cxr/tensor';
import { grid1d, linearMain, runKernel, type Tensor } from '@cxr/tensor';
import type { Parameter } from '../autograd/tape.js';
import { Optimizer, type ParamGroup, type ParamState, type ParamsArg } from './optimizer.js';

export interface AdamOptions {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  /** AdamW: p ← p·(1 - lr·wd) instead of adding wd·p to the gradient. */
  decoupledWeightDecay: boolean;
}

const wg = 256;

/**
 * torch.optim.Adam / AdamW (amsgrad off): m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g²,
 * p -= (lr / (1-β1ᵗ)) · m / (√v / √(1-β2ᵗ) + eps). One fused kernel per parameter: the
 * parameter, m and v are written, the gradient read; the per-step scalars are uniforms.
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

  protected update(p: Parameter, grad: Tensor, g: ParamGroup<AdamOptions>, s: ParamState): void {
    const n = p.size;
    if (!s.exp_avg) {
      s.step = 0;
      s.exp_avg = T.keep(T.zeros(p.shape));
      s.exp_avg_sq = T.keep(T.zeros(p.shape));
    }
    const step = (s.step as number) + 1;
    s.step = step;
    const [b1, b2] = g.betas;
    const bc1 = 1 - b1 ** step;
    const bc2 = 1 - b2 ** step;
    const wd = g.decoupledWeightDecay ? '  pv = pv * (1.0 - u.lr * u.wd);' : '  gr = gr + u.wd * pv;';
    const elem = (idx: string, grad: string) => `  {
  let k = ${idx};
  var pv = p_get(k);
  var gr = ${grad};
${wd}
  let mv = u.b1 * ea_get(k) + (1.0 - u.b1) * gr;
  let vv = u.b2 * eas_get(k) + (1.0 - u.b2) * gr * gr;
  ea_set(k, mv);
  eas_set(k, vv);
  p_set(k, pv - u.stepSize * mv / (sqrt(vv) / u.bc2sqrt + u.eps));
  }`;
    // Four elements per invocation (one vec4 load of the gradient) where the size allows.
    const vec = n % 4 === 0;
    const body = vec
      ? `  if (i >= ${n / 4}u) { return; }\n  let g4 = g_get4(i);\n${[0, 1, 2, 3].map((j) => elem(`i * 4u + ${j}u`, `g4[${j}]`)).join('\n')}`
      : `  if (i >= ${n}u) { return; }\n${elem('i', 'g_get(i)')}`;
    runKernel({
      name: g.decoupledWeightDecay ? 'adamwStep' : 'adamStep',
      body: linearMain(wg, body),
      inputs: { g: grad },
      outputs: { p, ea: s.exp_avg as Tensor, eas: s.exp_avg_sq as Tensor },
      uniforms: {
        lr: ['f32', g.lr], wd: ['f32', g.weightDecay], b1: ['f32', b1], b2: ['f32', b2], eps: ['f32', g.eps],
        stepSize: ['f32', g.lr / bc1], bc2sqrt: ['f32', Math.sqrt(bc2)],
      },
      workgroups: grid1d(vec ? n / 4 : n, wg),
    });
  }
}

/** AdamW: Adam with decoupled weight decay (default 0.01, as PyTorch). */
export class AdamW extends Adam {
  constructor(params: ParamsArg<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { weightDecay: 0.01, ...options, decoupledWeightDecay: true });
  }
}
