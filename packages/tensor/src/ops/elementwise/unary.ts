import type { Tensor } from '../../tensor.ts';
import { elementwise } from './elementwise.ts';

/** Unary ops as one WGSL expression each, `$0` being the input. */
export const unaryOps = {
  neg: '-$0',
  abs: 'abs($0)',
  exp: 'exp($0)',
  log: 'log($0)',
  sqrt: 'sqrt($0)',
  rsqrt: 'inverseSqrt($0)',
  // NaN stays NaN, as in PyTorch (a bare max(NaN, 0) is 0 on some drivers and hides divergence).
  relu: 'select(max($0, 0.0), $0, isnanf($0))',
  sigmoid: 'sigmoidf($0)',
  tanh: 'tanhf($0)',
  /** log(1 + eˣ), stable for any x, and accurate where it is tiny (x ≪ 0: see `log1pUnit`). */
  softplus: 'max($0, 0.0) + log1pUnit(exp(-abs($0)))',
  square: '$0 * $0',
  reciprocal: '1.0 / $0',
  sign: 'sign($0)',
  floor: 'floor($0)',
  ceil: 'ceil($0)',
} as const;

export type UnaryOp = keyof typeof unaryOps;

/**
 * The same ops over vec4<f32>, four elements per invocation (see `elementwise`): VGG16's ReLU on
 * [8, 64, 224, 224] took 104 ms a call with one element per invocation on lavapipe, 2.5x an `add`
 * of the same size, which moves more bytes. Ops without one here (sigmoid, tanh: helpers written
 * for f32) run one element per invocation; arithmetic-only ones are their own vec4 form.
 */
const unaryVec4Ops: Partial<Record<UnaryOp, string>> = {
  abs: 'abs($0)',
  exp: 'exp($0)',
  log: 'log($0)',
  sqrt: 'sqrt($0)',
  rsqrt: 'inverseSqrt($0)',
  relu: 'select(max($0, vec4<f32>(0.0)), $0, isnan4($0))',
  softplus: 'max($0, vec4<f32>(0.0)) + log1pUnit4(exp(-abs($0)))',
  sign: 'sign($0)',
  floor: 'floor($0)',
  ceil: 'ceil($0)',
};

export function unary(op: UnaryOp, x: Tensor): Tensor {
  return elementwise(op, unaryOps[op], [x], { vec4Expr: unaryVec4Ops[op] });
}

export const neg = (x: Tensor) => unary('neg', x);
export const abs = (x: Tensor) => unary('abs', x);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const relu = (x: Tensor) => unary('relu', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const softplus = (x: Tensor) => unary('softplus', x);
export const square = (x: Tensor) => unary('square', x);
export const reciprocal = (x: Tensor) => unary('reciprocal', x);
export const sign = (x: Tensor) => unary('sign', x);
export const floor = (x: Tensor) => unary('floor', x);
export const ceil = (x: Tensor) => unary('ceil', x);

/** Clamps into [min, max]; either bound may be ±Infinity to leave that side open. */
export function clamp(x: Tensor, min: number, max: number): Tensor {
  if (Number.isNaN(min) || Number.isNaN(max) || min > max) throw new Error(`clamp: invalid bounds [${min}, ${max}] for shape [${x.shape.join(',')}]`);
  return elementwise('clamp', 'select(clamp($0, $1, $2), $0, isnanf($0))', [x, Math.max(min, -3.4e38), Math.min(max, 3.4e38)], {
    vec4Expr: 'select(clamp($0, vec4<f32>($1), vec4<f32>($2)), $0, isnan4($0))',
  });
}
