import type { DType } from '@cxr/tensor';

let active: 'float16' | null = null;

/**
 * Mixed precision as torch.autocast: inside `autocast('float16', fn)`, Conv2d and Linear cast
 * their input and parameters to float16 (differentiably: the float32 parameters stay the master
 * copy and receive float32 gradients), the ops that follow them keep float16 activations (batch
 * norm with float32 statistics, ReLU, pooling, residual adds), and the losses cast logits back to
 * float32. Kernels accumulate in f32 throughout; only stored tensors are rounded. `null` or
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
