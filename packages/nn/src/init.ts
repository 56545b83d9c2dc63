import * as T from '@cxr/tensor';
import type { Generator, Tensor } from '@cxr/tensor';

/** fan_in and fan_out of a weight shape ([out, in] or [out, in/groups, kh, kw]) as torch.nn.init. */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`init: fan in/out need a weight with at least 2 dims, got [${shape.join(',')}]`);
  const receptive = shape.slice(2).reduce((p, d) => p * d, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

export function uniform(shape: readonly number[], bound: number, generator?: Generator): Tensor {
  return T.rand(shape, { low: -bound, high: bound, generator });
}

export function gainOf(nonlinearity: 'relu' | 'leaky_relu' | 'linear', a = 0): number {
  if (nonlinearity === 'relu') return Math.SQRT2;
  if (nonlinearity === 'leaky_relu') return Math.sqrt(2 / (1 + a * a));
  return 1;
}

/** torch.nn.init.kaiming_uniform_ (default a=√5, mode fan_in, leaky_relu): Linear/Conv2d weights. */
export function kaimingUniform(
  shape: readonly number[],
  options: { a?: number; mode?: 'fan_in' | 'fan_out'; nonlinearity?: 'relu' | 'leaky_relu'; generator?: Generator } = {},
): Tensor {
  const f = fans(shape);
  const fan = (options.mode ?? 'fan_in') === 'fan_in' ? f.fanIn : f.fanOut;
  const gain = gainOf(options.nonlinearity ?? 'leaky_relu', options.a ?? Math.sqrt(5));
  return uniform(shape, gain * Math.sqrt(3 / fan), options.generator);
}

/** torch.nn.init.kaiming_normal_ (torchvision ResNet convs: mode fan_out, relu). */
export function kaimingNormal(
  shape: readonly number[],
  options: { mode?: 'fan_in' | 'fan_out'; nonlinearity?: 'relu' | 'leaky_relu'; a?: number; generator?: Generator } = {},
): Tensor {
  const f = fans(shape);
  const fan = (options.mode ?? 'fan_out') === 'fan_in' ? f.fanIn : f.fanOut;
  const std = gainOf(options.nonlinearity ?? 'relu', options.a ?? 0) / Math.sqrt(fan);
  return T.randn(shape, { std, generator: options.generator });
}

/** torch.nn.init.normal_ (torchvision VGG Linear: std 0.01). */
export function normal(shape: readonly number[], std: number, generator?: Generator): Tensor {
  return T.randn(shape, { std, generator });
}
