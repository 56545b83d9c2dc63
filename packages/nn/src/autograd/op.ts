import { scope, Tensor } from '@cxr/tensor';
import { isGradEnabled, record, tensorsOf, type Ctx, type Grads } from './tape.ts';

/**
 * One differentiable op: forward and gradient rule declared together. `backward` is a required
 * member, so an op without a gradient does not type-check. Gradients are returned aligned with
 * the op's TENSOR inputs (`ctx.inputs`: top-level tensor arguments and tensors inside array
 * arguments, in order); null where a gradient is not needed (`ctx.needs[k]` false) or undefined.
 */
export interface OpDef<A extends unknown[], S = undefined> {
  forward: (...args: A) => Tensor | { out: Tensor; saved: S };
  backward: (ctx: Ctx<A, S>, dy: Tensor) => Grads;
}

export type DiffOp<A extends unknown[]> = ((...args: A) => Tensor) & { readonly opName: string };

function savedTensors(s: unknown, out: Tensor[]): void {
  if (s instanceof Tensor) out.push(s);
  else if (Array.isArray(s)) for (const v of s) savedTensors(v, out);
  else if (s && typeof s === 'object' && Object.getPrototypeOf(s) === Object.prototype) for (const v of Object.values(s)) savedTensors(v, out);
}

/** Wraps a definition into a function that runs forward and records the op on the tape. */
export function defineOp<A extends unknown[], S = undefined>(name: string, def: OpDef<A, S>): DiffOp<A> {
  const fn = (...args: A): Tensor => {
    const inputs = tensorsOf(args);
    const r = scope(() => def.forward(...args) as never) as Tensor | { out: Tensor; saved: S };
    let out: Tensor;
    let saved: S;
    if (r instanceof Tensor) {
      out = r;
      saved = undefined as S;
    } else {
      out = r.out;
      saved = r.saved;
    }
    // An op must return a tensor the tape may own: never one of its inputs.
    if (inputs.includes(out)) out = out.view(out.shape);
    const owned: Tensor[] = [];
    savedTensors(saved, owned);
    const ownedOnly = owned.filter((t) => !inputs.includes(t) && t !== out);
    if (!isGradEnabled()) {
      for (const t of ownedOnly) t.dispose();
      return out;
    }
    record(name, args, out, saved, ownedOnly, def.backward);
    return out;
  };
  Object.defineProperty(fn, 'opName', { value: name });
  return fn as DiffOp<A>;
}
