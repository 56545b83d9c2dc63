import type { DType } from '../../dtype.ts';
import { computeType, isFloat } from '../../dtype.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, linearMain, runKernel } from '../../kernel/run.ts';

/** Converts between float32, float16 and int32 (float to int truncates toward zero, as torch; float32 to float16 rounds to nearest even). */
export function cast(x: Tensor, dtype: DType): Tensor {
  x.storage('cast');
  const out = Tensor.empty(x.shape, dtype, 'cast');
  if (x.size === 0) return out;
  // Mixed precision casts every weight each step: four elements per invocation between float
  // dtypes where the size allows (a quarter of the per-lane loads and stores on a CPU adapter), and
  // the size as a uniform, so one pipeline per dtype pair and form serves every tensor.
  const vec4 = isFloat(x.dtype) && isFloat(dtype) && x.size % 4 === 0;
  const n = vec4 ? x.size / 4 : x.size;
  runKernel({
    name: 'cast',
    body: linearMain(256, `  if (i >= u.n) { return; }\n  ${vec4 ? 'out_set4(i, x_get4(i));' : `out_set(i, ${computeType(dtype)}(x_get(i)));`}`),
    inputs: { x },
    outputs: { out },
    uniforms: { n: ['u32', n] },
    workgroups: grid1d(n, 256),
  });
  return out;
}
