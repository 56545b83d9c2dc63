import { fmt } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, linearMain, runKernel } from '../../kernel/run.ts';
import { philoxWgsl } from '../random/philox.wgsl.ts';
import { defaultGenerator, Generator } from '../random/random.ts';
import { elementwise } from '../elementwise/elementwise.ts';

export interface DropoutOptions {
  generator?: Generator;
  /** A fresh generator with this seed (same seed, same mask). */
  seed?: number;
}

const wg = 256;

function checkP(op: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new Error(`${op}: p must be in [0, 1], got ${p}`);
}

/**
 * Inverted dropout: each element is kept with probability 1−p (one Philox draw per element,
 * seeded by the generator) and scaled by 1/(1−p). `mask` (x's dtype, 1 = kept) is what the
 * backward needs. p = 1 drops everything (zeros), as PyTorch.
 */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): { out: Tensor; mask: Tensor } {
  const op = 'dropout';
  x.storage(op);
  if (x.dtype === 'int32') throw new Error(`${op}: expects float32 or float16, got ${x.dtype} ${fmt(x.shape)}`);
  checkP(op, p);
  const gen = options.generator ?? (options.seed !== undefined ? new Generator(options.seed) : defaultGenerator);
  const out = Tensor.empty(x.shape, x.dtype, op);
  // 0 and 1 are exact in float16: the mask costs what x does.
  const mask = Tensor.empty(x.shape, x.dtype, `${op}.mask`);
  const body = `  if (i >= ${x.size}u) { return; }
  let r = philox(vec4<u32>(i, u.call0, u.call1, 0x44524f50u), vec2<u32>(u.key0, u.key1));
  let keep = unitOpen(r.x) >= u.p;
  mask_set(i, select(0.0, 1.0, keep));
  out_set(i, select(0.0, x_get(i) * u.scale, keep));`;
  runKernel({
    name: op,
    body: philoxWgsl + linearMain(wg, body),
    inputs: { x },
    outputs: { out, mask },
    uniforms: { ...gen.next(), p: ['f32', p], scale: ['f32', p < 1 ? 1 / (1 - p) : 0] },
    workgroups: grid1d(x.size, wg),
  });
  return { out, mask };
}

/** dx = dy · mask / (1−p). */
export function dropoutBackward(dy: Tensor, mask: Tensor, p: number): Tensor {
  const op = 'dropoutBackward';
  checkP(op, p);
  dy.storage(op);
  mask.storage(op);
  if (dy.shape.join() !== mask.shape.join()) throw new Error(`${op}: gradient ${fmt(dy.shape)} and mask ${fmt(mask.shape)} differ`);
  return elementwise(op, '$0 * $1 * $2', [dy, mask, p < 1 ? 1 / (1 - p) : 0], { dtype: dy.dtype });
}
