import type { DType } from '@cxr/tensor';

let active: 'float16' | null = null;

/**
 * Mixed precision as torch.autocast: inside `autocast('float16', fn)`, Conv2d and Linear cast
 * their input to float16 (differentiably) and compute with their float32 weights as they are (the
 * kernels accumulate in f32 and write the weight gradients in float32; PyTorch casts the weights
 * too because its float16 kernels need both operands in float16, ours do not), the ops that
 * follow keep float16 activations (batch norm with float32 statistics, ReLU, pooling, residual
 * adds), and the losses cast logits back to float32. Only stored activations and their gradients
 * are rounded. `null` or
 * 'float32' runs `fn` without autocast (a region inside one turns it off).
 *
 * The region is synchronous, like a model's forward: `fn` must not return a promise.
 */
export function autocast<R>(dtype: 'float16' | 'float32' | null, fn: () => R): R {
  if (dtype !== null && dtype !== 'float16' && dtype !== 'float32')
    throw new Error(`autocast: dtype must be 'float16', 'float32' or null, got ${JSON.stringify(dtype)}`);
  const before = active;
  active = dtype === 'float16' ? 'float16' : null;
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error('autocast: the region must be synchronous (a forward pass), not return a promise');
    return r;
  } finally {
    active = before;
  }
}

/** The dtype that autocast'ed ops (conv, linear) compute in here, or null outside a float16 region. */
export function autocastDtype(): DType | null {
  return active;
}
