import { fmt } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { elementwise } from '../elementwise/elementwise.ts';

/**
 * Backward rules of the pointwise ops: dy times the local derivative, one fused kernel each.
 * Each reads what its forward saved, the input x or the output y (whichever makes the rule
 * cheapest), named in the error when the shapes differ. `$0` is dy, `$1` the saved tensor.
 */
function pointwise(op: string, expr: string, dy: Tensor, saved: Tensor, savedName: 'input' | 'output', scalars: number[] = [], vec4Expr?: string): Tensor {
  dy.storage(op);
  saved.storage(op);
  if (dy.shape.join() !== saved.shape.join()) throw new Error(`${op}: gradient ${fmt(dy.shape)} and ${savedName} ${fmt(saved.shape)} must have one shape`);
  // The gradient of x has x's dtype (the saved tensor is x or y, of one dtype), as torch's autograd
  // casts an incoming gradient to its tensor's dtype.
  return elementwise(op, expr, [dy, saved, ...scalars], { allowNonFinite: true, vec4Expr, dtype: saved.dtype });
}

/** dy · (x > 0); the output works as well (y > 0 exactly where x > 0). */
export const reluBackward = (dy: Tensor, x: Tensor) =>
  pointwise('reluBackward', 'select(0.0, $0, $1 > 0.0)', dy, x, 'input', [], 'select(vec4<f32>(0.0), $0, $1 > vec4<f32>(0.0))');
/** dy · y · (1 − y), from the forward OUTPUT y = sigmoid(x). */
export const sigmoidBackward = (dy: Tensor, y: Tensor) => pointwise('sigmoidBackward', '$0 * $1 * (1.0 - $1)', dy, y, 'output');
/** dy · (1 − y²), from the forward OUTPUT y = tanh(x). */
export const tanhBackward = (dy: Tensor, y: Tensor) => pointwise('tanhBackward', '$0 * (1.0 - $1 * $1)', dy, y, 'output');
/** dy / (2y), from the forward OUTPUT y = √x. */
export const sqrtBackward = (dy: Tensor, y: Tensor) => pointwise('sqrtBackward', '0.5 * $0 / $1', dy, y, 'output');
/** −dy · y³ / 2, from the forward OUTPUT y = 1/√x. */
export const rsqrtBackward = (dy: Tensor, y: Tensor) => pointwise('rsqrtBackward', '-0.5 * $0 * $1 * $1 * $1', dy, y, 'output');
/** 2 · dy · x. */
export const squareBackward = (dy: Tensor, x: Tensor) => pointwise('squareBackward', '2.0 * $0 * $1', dy, x, 'input');
/** dy · sign(x) (0 at x = 0, as PyTorch). */
export const absBackward = (dy: Tensor, x: Tensor) => pointwise('absBackward', '$0 * sign($1)', dy, x, 'input');
/** dy · sigmoid(x): the derivative of softplus(x) = log(1 + eˣ). */
export const softplusBackward = (dy: Tensor, x: Tensor) => pointwise('softplusBackward', '$0 * sigmoidf($1)', dy, x, 'input');

/** dy · p · x^(p−1) for a constant exponent p (0 when p = 0, as PyTorch). */
export const powScalarBackward = (dy: Tensor, x: Tensor, p: number) =>
  pointwise('powScalarBackward', 'select($0 * $2 * powf($1, $2 - 1.0), 0.0, $2 == 0.0)', dy, x, 'input', [p]);

/** dy where min ≤ x ≤ max, else 0 (PyTorch passes the gradient at the bounds too). */
export const clampBackward = (dy: Tensor, x: Tensor, min: number, max: number) =>
  pointwise('clampBackward', 'select(0.0, $0, $1 >= $2 && $1 <= $3)', dy, x, 'input', [Math.max(min, -3.4e38), Math.min(max, 3.4e38)]);

/**
 * Gradient of y = a / b with respect to the divisor b: −dy · y / b, from the OUTPUT y, with b
 * broadcast like the forward (the caller sums it back to b's shape).
 */
export function divisorBackward(dy: Tensor, y: Tensor, b: Tensor | number): Tensor {
  const op = 'divisorBackward';
  if (dy.shape.join() !== y.shape.join()) throw new Error(`${op}: gradient ${fmt(dy.shape)} and output ${fmt(y.shape)} must have one shape`);
  return elementwise(op, '-$0 * $1 / $2', [dy, y, b], { allowNonFinite: true });
}
