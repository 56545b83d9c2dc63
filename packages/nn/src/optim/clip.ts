import * as T from '@cxr/tensor';
import type { Tensor } from '@cxr/tensor';
import type { Parameter } from '../autograd/tape.ts';

/**
 * torch.nn.utils.clip_grad_norm_: scales all gradients by min(1, maxNorm / (‖g‖ + 1e-6)) where
 * ‖g‖ is the global L2 norm over every gradient; stays on the device (no readback). Returns the
 * total norm as a scalar tensor (the caller disposes it).
 */
export function clipGradNorm(params: Iterable<Parameter>, maxNorm: number): Tensor {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  const withGrad = [...params].filter((p) => p.requiresGrad && p.grad);
  if (withGrad.length === 0) return T.zeros([]);
  const norm = T.scope(() => {
    const parts = withGrad.map((p) => T.sum(T.square(p.grad!)).view([1]));
    const total = parts.length === 1 ? parts[0] : T.sum(T.concat(parts, 0));
    return T.sqrt(total.view([]));
  });
  const coef = T.scope(() => T.minimum(T.div(maxNorm, T.add(norm, 1e-6)), 1));
  for (const p of withGrad) {
    const g = T.mul(p.grad!, coef);
    p.grad!.dispose();
    p.grad = T.keep(g);
  }
  coef.dispose();
  return norm;
}
