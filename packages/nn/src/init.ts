import * as T from '@cxr/tensor';
import type { Generator, Tensor } from '@cxr/tensor';

/** fan_in and fan_out of a weight shape ([out, in] or [out, in/groups, kh, kw]) as torch.nn.init. */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`init: fan in/out need a weight with at least 2 dims, got [${shape.join(',')}]`);
  const receptive = shape.slice(2).reduce((p, d) => p * d, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

let skipping = 0;

/**
 * Builds modules without drawing their initial values, for a model whose every tensor is loaded
 * next (pretrained weights, a trained model, a checkpoint): inside `build`, each init function
 * returns zeros and moves its generator on by the one draw it would have made, so the draws after
 * (a new head, dropout) are exactly what they would have been. Building VGG16 spent ~7 s on
 * lavapipe drawing 138M values twice (its layers', then torchvision's scheme) that loading then
 * overwrote.
 */
export function withoutInit<R>(build: () => R): R {
  skipping++;
  try {
    return build();
  } finally {
    skipping--;
  }
}

/** Whether init draws are being skipped (inside `withoutInit`). */
export function initSkipped(): boolean {
  return skipping > 0;
}

/** Moves a generator (the default one if none) on by one draw, as an init function would. */
export function skipDraw(generator?: Generator): void {
  (generator ?? T.defaultGenerator).next();
}

/** Zeros in place of a draw, the generator moved on (`withoutInit`); null when drawing. */
function skipped(shape: readonly number[], generator?: Generator): Tensor | null {
  if (skipping === 0) return null;
  skipDraw(generator);
  return T.zeros([...shape]);
}

export function uniform(shape: readonly number[], bound: number, generator?: Generator): Tensor {
  return skipped(shape, generator) ?? T.rand(shape, { low: -bound, high: bound, generator });
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
  return skipped(shape, options.generator) ?? T.randn(shape, { std, generator: options.generator });
}

/** torch.nn.init.normal_ (torchvision VGG Linear: std 0.01). */
export function normal(shape: readonly number[], std: number, generator?: Generator): Tensor {
  return skipped(shape, generator) ?? T.randn(shape, { std, generator });
}
