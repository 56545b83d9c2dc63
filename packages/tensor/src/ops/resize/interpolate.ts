import { fmt } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, runKernel } from '../../kernel/run.ts';
import { bilinearWgsl } from './interpolate.wgsl.ts';

const wg = 64;

/**
 * Resizes the last two axes of a float32 tensor (NCHW, or any rank ≥ 2) bilinearly, as
 * `torch.nn.functional.interpolate(x, size, mode='bilinear', align_corners=False)`.
 * Forward only: used to bring saliency maps to the input size, not inside training graphs.
 */
export function interpolateBilinear(x: Tensor, size: readonly [number, number]): Tensor {
  x.storage('interpolateBilinear');
  if (x.rank < 2) throw new Error(`interpolateBilinear: input must have at least 2 dimensions, got ${fmt(x.shape)}`);
  if (x.dtype !== 'float32') throw new Error(`interpolateBilinear: input must be float32, got ${x.dtype} ${fmt(x.shape)}`);
  const [OH, OW] = size;
  if (![OH, OW].every((d) => Number.isInteger(d) && d > 0))
    throw new Error(`interpolateBilinear: size must be two positive integers, got ${JSON.stringify(size)}`);
  const H = x.shape[x.rank - 2];
  const W = x.shape[x.rank - 1];
  if (H === 0 || W === 0) throw new Error(`interpolateBilinear: input ${fmt(x.shape)} has an empty plane`);
  const planes = x.size / (H * W);
  const out = Tensor.empty([...x.shape.slice(0, -2), OH, OW], 'float32', 'interpolateBilinear');
  runKernel({
    name: 'interpolateBilinear',
    body: bilinearWgsl({ planes, H, W, OH, OW }, wg),
    inputs: { x },
    outputs: { out },
    workgroups: grid1d(out.size, wg),
  });
  return out;
}
