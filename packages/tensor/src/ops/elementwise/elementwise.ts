import { broadcastShapes, broadcastStrides, fmt, sameShape } from '../../shape.ts';
import type { DType } from '../../dtype.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, linearMain, runKernel } from '../../kernel/run.ts';
import { broadcastIndex, elementwiseHelpers } from './elementwise.wgsl.ts';

export type Operand = Tensor | number;

const workgroupSize = 256;

export interface ElementwiseOptions {
  /** Output dtype; default: the operands' promoted float dtype (see `promoteFloat`). */
  dtype?: DType;
  /** Scalars that may be non-finite (maximum(x, -Infinity) is meaningful; add(x, NaN) is a bug). */
  allowNonFinite?: boolean;
  /**
   * The expression over vec4 operands, for the four-at-a-time form (no broadcasting, size a
   * multiple of 4). Arithmetic-only expressions (`$0 * (1.0 - $1)`) are their own vec4 form;
   * others (`select`, helper functions) opt in with one written for vec4<f32>.
   */
  vec4Expr?: string;
}

/** Only operands, literals, + − × ÷ and parentheses: the same WGSL works on f32 and vec4<f32>. */
const arithmeticOnly = /^[\s$\d.+\-*/()]+$/;

/**
 * torch's promotion between the float dtypes: float16 only when every tensor operand is float16
 * (scalars do not promote), else float32.
 */
export function promoteFloat(tensors: readonly Tensor[]): DType {
  return tensors.length > 0 && tensors.every((t) => t.dtype === 'float16') ? 'float16' : 'float32';
}

/**
 * One kernel for any elementwise expression over tensors and scalars with NumPy broadcasting.
 * `expr` names operand k as `$k`; tensors are loaded once per element, scalars come from the
 * uniform block so a changing scalar (a learning rate) never recompiles.
 */
export function elementwise(op: string, expr: string, operands: Operand[], options: ElementwiseOptions = {}): Tensor {
  const tensors = operands.filter((o): o is Tensor => typeof o !== 'number');
  for (const t of tensors) {
    t.storage(op);
    if (t.dtype === 'int32') throw new Error(`${op}: expects float32 or float16 tensors, got ${t.dtype} ${fmt(t.shape)}`);
  }
  operands.forEach((o, k) => {
    if (typeof o === 'number' && !options.allowNonFinite && !Number.isFinite(o)) {
      throw new Error(
        `${op}: scalar operand ${k} is ${o}; a finite number is required (shapes ${operands.map((x) => (typeof x === 'number' ? 'scalar' : fmt(x.shape))).join(', ')})`,
      );
    }
  });
  const outShape = tensors.length ? broadcastShapes(op, ...tensors.map((t) => t.shape)) : [];
  const out = Tensor.empty(outShape, options.dtype ?? promoteFloat(tensors), op);
  // Four elements per invocation where no operand broadcasts: on lavapipe every storage access is
  // a per-lane loop, so vec4 loads and stores do a quarter of them.
  const vec4Expr = options.vec4Expr ?? (arithmeticOnly.test(expr) ? expr : null);
  // The accessors convert float16 to and from vec4<f32>, so the same expression serves both floats.
  const vec4 = vec4Expr !== null && out.dtype !== 'int32' && out.size % 4 === 0 && out.size > 0 && tensors.every((t) => sameShape(t.shape, outShape));
  const inputs: Record<string, Tensor> = {};
  const uniforms: Record<string, ['f32' | 'u32', number]> = {};
  const loads: string[] = [];
  const indexOperands: { name: string; strides: number[] | null }[] = [];
  let e = vec4 ? vec4Expr : expr;
  operands.forEach((o, k) => {
    if (typeof o === 'number') {
      uniforms[`s${k}`] = ['f32', o];
      e = e.replaceAll(`$${k}`, `u.s${k}`);
      return;
    }
    inputs[`x${k}`] = o;
    if (vec4) {
      loads.push(`  let v${k} = x${k}_get4(i);`);
    } else {
      const same = sameShape(o.shape, outShape);
      const idx = o.size === 1 ? '0u' : same ? 'i' : `ix${k}`;
      if (!same && o.size !== 1) indexOperands.push({ name: `ix${k}`, strides: broadcastStrides(o.shape, outShape) });
      loads.push(`  let v${k} = x${k}_get(${idx});`);
    }
    e = e.replaceAll(`$${k}`, `v${k}`);
  });
  // The size is a uniform, so the kernel is shared by every size (a batch size change, a partial
  // last batch, evaluation) instead of compiled once per shape. Broadcast index arithmetic never
  // names the leading dimension's size either, so a bias add [N, C] + [C] is shared across N too.
  const n = vec4 ? out.size / 4 : out.size;
  uniforms.n = ['u32', n];
  const store = vec4 ? `out_set4(i, ${e})` : `out_set(i, ${e})`;
  const body = `  if (i >= u.n) { return; }\n${broadcastIndex(outShape, indexOperands)}\n${loads.join('\n')}\n  ${store};`;
  runKernel({
    name: op,
    body: elementwiseHelpers + linearMain(workgroupSize, body),
    inputs,
    outputs: { out },
    uniforms,
    workgroups: grid1d(n, workgroupSize),
  });
  return out;
}
