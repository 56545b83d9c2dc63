import type { DType } from '../../dtype.ts';
import type { Shape } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { runKernel, type ScalarType } from '../../kernel/run.ts';
import type { ConvGeometry } from './geometry.ts';
import { convShuffles, type ConvTiles } from './tiles.ts';
import { pointwiseForwardWgsl, pointwiseInputGradWgsl, pointwiseLanes, pointwiseWeightGradWgsl } from './pointwise.wgsl.ts';
import { memoWgsl } from '../../kernel/memo.ts';

/** Generated once per spec (see memoWgsl). */
const cachedPointwiseForwardWgsl = memoWgsl(pointwiseForwardWgsl);
const cachedPointwiseInputGradWgsl = memoWgsl(pointwiseInputGradWgsl);
const cachedPointwiseWeightGradWgsl = memoWgsl(pointwiseWeightGradWgsl);

/**
 * Whether geometry `g` runs on the pointwise kernels (pointwise.wgsl.ts): a 1x1 conv, stride 1 or
 * 2 on both axes, no padding, one group, output grid a multiple of 4 pixels, and for stride 2 an
 * even-sized input of exactly twice the output (so the input gradient's 2x2 blocks tile it), on
 * the direct kernels with subgroup shuffles (CPU adapter).
 */
export function usesPointwise(g: ConvGeometry, t: Readonly<ConvTiles>): boolean {
  if (!t.pointwise || !convShuffles(t)) return false;
  if (g.KH !== 1 || g.KW !== 1 || g.groups !== 1 || g.ph !== 0 || g.pw !== 0 || g.sh !== g.sw) return false;
  if ((g.OH * g.OW) % 4 !== 0) return false;
  if (g.sh === 1) return true;
  return g.sh === 2 && g.H === 2 * g.OH && g.W === 2 * g.OW && g.OW % 2 === 0;
}

/** Reduction steps per loop iteration for a reduced size of `n` (C in the forward, O in the input gradient): U where it divides n, else 1. */
export function pointwiseSteps(n: number, t: Readonly<ConvTiles>): number {
  const U = t.pointwise?.U ?? 1;
  return n % U === 0 ? U : 1;
}

function uniforms(g: ConvGeometry, tiles: number, quads: number, TO: number): Record<string, [ScalarType, number]> {
  return {
    tiles: ['u32', tiles],
    // The store loops' tile size (see pointwise.wgsl.ts `storeLoop`).
    TO: ['u32', TO],
    quads: ['u32', quads],
    P4: ['u32', (g.OH * g.OW) / 4],
    OW: ['u32', g.OW],
    C: ['u32', g.C],
    O: ['u32', g.O],
    X4: ['u32', (g.H * g.W) / 4],
  };
}

/** conv2d on the pointwise kernels: x [N, C, H, W], w [O, C, 1, 1] → out [N, O, OH, OW]. */
export function pointwiseForward(op: string, g: ConvGeometry, t: Readonly<ConvTiles>, x: Tensor, w: Tensor, bias: Tensor | null, out: Tensor): void {
  const { TO, TQ } = t.pointwise!;
  const U = pointwiseSteps(g.C, t);
  const quads = (g.N * g.OH * g.OW) / 4;
  const tiles = Math.ceil(quads / TQ);
  runKernel({
    name: op,
    body: cachedPointwiseForwardWgsl({ stride: g.sh as 1 | 2, TO, TQ, U, bias: !!bias }),
    inputs: bias ? { x, w, bias } : { x, w },
    outputs: { out },
    uniforms: uniforms(g, tiles, quads, TO),
    workgroups: [Math.ceil(tiles / pointwiseLanes), Math.ceil(g.O / TO), 1],
  });
}

/** conv2dBackwardInput on the pointwise kernels: dy [N, O, OH, OW], w → dx of `inputShape` (every element written). */
export function pointwiseInputGrad(op: string, g: ConvGeometry, t: Readonly<ConvTiles>, dy: Tensor, w: Tensor, inputShape: Shape): Tensor {
  const { bwdTO: TO, TQ } = t.pointwise!;
  const U = pointwiseSteps(g.O, t);
  const dx = Tensor.empty([...inputShape], dy.dtype, op);
  const quads = (g.N * g.OH * g.OW) / 4;
  const tiles = Math.ceil(quads / TQ);
  runKernel({
    name: op,
    body: cachedPointwiseInputGradWgsl({ stride: g.sh as 1 | 2, TO, TQ, U, wVec4: t.pointwise!.wVec4 && g.C % 4 === 0 && TO % 4 === 0 }),
    inputs: { dy, w },
    outputs: { out: dx },
    uniforms: uniforms(g, tiles, quads, TO),
    workgroups: [Math.ceil(tiles / pointwiseLanes), Math.ceil(g.C / TO), 1],
  });
  return dx;
}

/** conv2dBackwardWeight on the pointwise kernels: dy, x → dw of `weightShape` ([O, C, 1, 1]). */
export function pointwiseWeightGrad(op: string, g: ConvGeometry, t: Readonly<ConvTiles>, dy: Tensor, x: Tensor, weightShape: Shape, dtype: DType): Tensor {
  const { wTO: TO, wTC: TC } = t.pointwise!;
  const dw = Tensor.empty([...weightShape], dtype, op);
  const tiles = Math.ceil(g.C / TC);
  runKernel({
    name: op,
    body: cachedPointwiseWeightGradWgsl({ stride: g.sh as 1 | 2, TO, TC, vec4Store: g.C % 4 === 0 }),
    inputs: { dy, x },
    outputs: { out: dw },
    uniforms: uniforms(g, tiles, (g.N * g.OH * g.OW) / 4, TO),
    workgroups: [Math.ceil(tiles / pointwiseLanes), Math.ceil(g.O / TO), 1],
  });
  return dw;
}
