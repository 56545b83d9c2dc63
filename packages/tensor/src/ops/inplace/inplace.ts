import { fmt } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { grid1d, linearMain, runKernel } from '../../kernel/run.ts';
import { cast } from '../elementwise/cast.ts';

/**
 * Writes into existing tensors, for state that must keep its identity (parameters that optimizers
 * hold, buffers modules registered): everything else in @cxr/tensor returns a new tensor.
 */

const wg = 256;

/** Copies src's values into dst in place, in element order (cast to dst's dtype when they differ). */
export function copyInto(dst: Tensor, src: Tensor): void {
  if (dst.size !== src.size) throw new Error(`copyInto: sizes differ, ${fmt(dst.shape)} vs ${fmt(src.shape)}`);
  const s = src.dtype === dst.dtype ? src : cast(src, dst.dtype);
  try {
    runKernel({
      name: 'copyInto',
      // The size is a uniform: one pipeline for every shape (loading a state dict copies dozens).
      body: linearMain(wg, '  if (i >= u.n) { return; }\n  dst_set(i, src_get(i));'),
      inputs: { src: s },
      outputs: { dst },
      uniforms: { n: ['u32', dst.size] },
      workgroups: grid1d(dst.size, wg),
    });
  } finally {
    if (s !== src) s.dispose();
  }
}

/** Adds one to every element in place (BatchNorm's `num_batches_tracked`), without a readback. */
export function increment(counter: Tensor): void {
  if (counter.size === 0) return;
  const one = counter.dtype === 'int32' ? '1' : '1.0';
  // A scalar counter gets a one-invocation workgroup: 255 idle lanes cost time on a CPU adapter.
  const size = Math.min(wg, counter.size);
  runKernel({
    name: 'increment',
    body: linearMain(size, `  if (i >= ${counter.size}u) { return; }\n  n_set(i, n_get(i) + ${one});`),
    outputs: { n: counter },
    workgroups: grid1d(counter.size, size),
  });
}
