import type { Tensor } from '../../tensor.ts';
import { elementwise, promoteFloat, type Operand } from './elementwise.ts';

/** Binary ops as one WGSL expression each over `$0` and `$1`, with broadcasting. */
export const binaryOps = {
  add: '$0 + $1',
  sub: '$0 - $1',
  mul: '$0 * $1',
  div: '$0 / $1',
  pow: 'powf($0, $1)',
  // A NaN operand gives NaN, as torch.maximum/minimum do ($0 + $1 is that NaN).
  maximum: 'select(max($0, $1), $0 + $1, isnanf($0) || isnanf($1))',
  minimum: 'select(min($0, $1), $0 + $1, isnanf($0) || isnanf($1))',
  eq: 'select(0.0, 1.0, $0 == $1)',
  ne: 'select(0.0, 1.0, $0 != $1)',
  lt: 'select(0.0, 1.0, $0 < $1)',
  le: 'select(0.0, 1.0, $0 <= $1)',
  gt: 'select(0.0, 1.0, $0 > $1)',
  ge: 'select(0.0, 1.0, $0 >= $1)',
} as const;

export type BinaryOp = keyof typeof binaryOps;

const openScalars = new Set<BinaryOp>(['maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge']);
/** Comparisons give float32 0/1 masks whatever their operands' dtype (the masks `where` and the gradient rules take). */
const comparisons = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);

export function binary(op: BinaryOp, a: Operand, b: Operand): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a tensor`);
  return elementwise(op, binaryOps[op], [a, b], { allowNonFinite: openScalars.has(op), dtype: comparisons.has(op) ? 'float32' : undefined });
}

export const add = (a: Operand, b: Operand) => binary('add', a, b);
export const sub = (a: Operand, b: Operand) => binary('sub', a, b);
export const mul = (a: Operand, b: Operand) => binary('mul', a, b);
export const div = (a: Operand, b: Operand) => binary('div', a, b);
export const pow = (a: Operand, b: Operand) => binary('pow', a, b);
export const maximum = (a: Operand, b: Operand) => binary('maximum', a, b);
export const minimum = (a: Operand, b: Operand) => binary('minimum', a, b);
export const eq = (a: Operand, b: Operand) => binary('eq', a, b);
export const ne = (a: Operand, b: Operand) => binary('ne', a, b);
export const lt = (a: Operand, b: Operand) => binary('lt', a, b);
export const le = (a: Operand, b: Operand) => binary('le', a, b);
export const gt = (a: Operand, b: Operand) => binary('gt', a, b);
export const ge = (a: Operand, b: Operand) => binary('ge', a, b);

/** `cond ? a : b` elementwise (cond nonzero is true), broadcasting all three. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  // The values' dtype, not the mask's: a float32 mask picking between float16 tensors gives float16.
  const values = [a, b].filter((o): o is Tensor => typeof o !== 'number');
  const dtype = values.length > 0 ? promoteFloat(values) : cond.dtype;
  return elementwise('where', 'select($2, $1, $0 != 0.0)', [cond, a, b], { allowNonFinite: true, dtype });
}
