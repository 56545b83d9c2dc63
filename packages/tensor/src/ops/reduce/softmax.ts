import { fmt, normAxes } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, runKernel } from '../../kernel/run.ts';
import { softmaxWgsl } from './softmax.wgsl.ts';

function softmaxLike(op: string, x: Tensor, axis: number, log: boolean): Tensor {
  x.storage(op);
  if (x.rank === 0) throw new Error(`${op}: needs at least one dimension, got a scalar`);
  if (x.dtype === 'int32') throw new Error(`${op}: expects float32 or float16, got ${x.dtype} ${fmt(x.shape)}`);
  const [a] = normAxes(op, x.shape, axis);
  const len = x.shape[a];
  const inner = x.shape.slice(a + 1).reduce((p, d) => p * d, 1);
  const rows = x.size / Math.max(1, len);
  // Max, sum and exp in f32 whatever x's dtype; only the output is rounded to it.
  const out = Tensor.empty(x.shape, x.dtype, op);
  // 64 lanes at least: lane 0 folds the partials in a loop that Mesa would unroll at 32 (see `softmaxWgsl`).
  const wg = len >= 256 ? 128 : 64;
  runKernel({
    name: op,
    body: softmaxWgsl(len, inner, log, wg),
    inputs: { x },
    outputs: { out },
    uniforms: { rows: ['u32', rows] },
    workgroups: grid1d(rows, 1),
  });
  return out;
}

/** exp(x) / sum(exp(x)) along `axis`, computed stably. */
export const softmax = (x: Tensor, axis = -1) => softmaxLike('softmax', x, axis, false);
/** log(softmax(x)) along `axis`, computed as x - max - log(sum(exp(x - max))). */
export const logSoftmax = (x: Tensor, axis = -1) => softmaxLike('logSoftmax', x, axis, true);
