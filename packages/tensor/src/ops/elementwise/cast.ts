import type { DType } from '../../dtype.ts';
import { computeType } from '../../dtype.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, linearMain, runKernel } from '../../kernel/run.ts';

/** Converts between float32, float16 and int32 (float to int truncates toward zero, as torch; float32 to float16 rounds to nearest even). */
export function cast(x: Tensor, dtype: DType): Tensor {
  x.storage('cast');
  const out = Tensor.empty(x.shape, dtype, 'cast');
  if (x.size === 0) return out;
  runKernel({
    name: 'cast',
    body: linearMain(256, `  if (i >= ${x.size}u) { return; }\n  out_set(i, ${computeType(dtype)}(x_get(i)));`),
    inputs: { x },
    outputs: { out },
    workgroups: grid1d(x.size, 256),
  });
  return out;
}
