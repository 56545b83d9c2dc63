import { fmt } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, runKernel } from '../../kernel/run.ts';
import { normalizeChannelsWgsl } from './normalizeChannels.wgsl.ts';

const wg = 256;

/**
 * torchvision's `Normalize` on the device, with channel broadcasting: `x` is [N, C', ...] with C'
 * either `mean.length` or 1 (one plane repeated into every output channel, as a grey image
 * converted to RGB), and the result is [N, mean.length, ...] with
 * `(x[n, c'] - mean[c]) * (1 / std[c])`. Lets a producer hand over one-channel, un-normalised data
 * (a third of the bytes to upload) and the device expand it. Not recorded for gradients: it maps
 * inputs, it is not a layer.
 */
export function normalizeChannels(x: Tensor, mean: readonly number[], std: readonly number[]): Tensor {
  const op = 'normalizeChannels';
  const C = mean.length;
  if (!C || std.length !== C) throw new Error(`${op}: mean and std must have the same non-zero length, got ${mean.length} and ${std.length}`);
  if (std.some((s) => !(Math.abs(s) > 0 && Number.isFinite(s)))) throw new Error(`${op}: std must be finite and non-zero, got [${std.join(', ')}]`);
  if (x.dtype !== 'float32') throw new Error(`${op}: expects a float32 tensor, got ${x.dtype}`);
  if (x.shape.length < 2 || (x.shape[1] !== 1 && x.shape[1] !== C))
    throw new Error(`${op}: input ${fmt(x.shape)} must be [N, 1 or ${C}, ...] for ${C} channels of mean/std`);
  x.storage(op);
  const shape = [x.shape[0], C, ...x.shape.slice(2)];
  const out = Tensor.empty(shape, 'float32', op);
  if (out.size === 0) return out;
  const spatial = x.shape.slice(2).reduce((a, b) => a * b, 1);
  const lanes = spatial % 4 === 0 ? out.size / 4 : out.size;
  runKernel({
    name: op,
    body: normalizeChannelsWgsl(
      { channels: C, inChannels: x.shape[1], spatial },
      mean,
      std.map((s) => 1 / s),
      wg,
    ),
    inputs: { x },
    outputs: { out },
    uniforms: { total: ['u32', lanes] },
    workgroups: grid1d(lanes, wg),
  });
  return out;
}
