import { keep, scope, Tensor, add, cast, contiguous, full } from '@cxr/tensor';

/**
 * Reverse-mode autograd kept OFF the tensor: a global tape of recorded ops and a WeakMap from
 * each recorded output to its tape entry. Leaves are `Parameter`s (tensors with `requiresGrad`
 * and `.grad`). `backward()` walks the tape in reverse, accumulates into the leaves' `.grad`,
 * then disposes every tensor the tape owns (op outputs and saved activations) except the root.
 */

/** What a gradient rule sees: the op's arguments, its output, what the forward saved, and which tensor inputs need a gradient. */
export interface Ctx<A extends unknown[], S = unknown> {
  args: A;
  /** The tensor inputs, in argument order (top-level tensors and tensors inside array arguments). */
  inputs: Tensor[];
  out: Tensor;
  saved: S;
  /** needs[k]: tensor input k needs a gradient (skip computing the others). */
  needs: boolean[];
}

export type Grads = (Tensor | null | undefined)[];

interface Entry {
  op: string;
  out: Tensor;
  /** Null when no input requires grad: the entry only owns `out` (so it is freed by backward). */
  node: {
    inputs: Tensor[];
    needs: boolean[];
    ctx: Ctx<unknown[], unknown>;
    backward: (ctx: Ctx<unknown[], unknown>, dy: Tensor) => Grads;
  } | null;
  ownedSaved: Tensor[];
  freed: boolean;
}

let tape: Entry[] = [];
const producer = new WeakMap<Tensor, Entry>();
const freedRoots = new WeakSet<Tensor>();
let gradEnabled = true;
/** Recorded tensors whose gradient backward keeps (`retainGrad`), and the gradients it kept. */
const retained = new WeakSet<Tensor>();
const retainedGrads = new WeakMap<Tensor, Tensor>();

/** A leaf tensor that can receive gradients (as `torch.nn.Parameter`). It shares `data`'s storage. */
export class Parameter extends Tensor {
  /** Accumulated gradient (null until a backward reaches this parameter; `zeroGrad` disposes it). */
  grad: Tensor | null = null;
  /** False for frozen parameters: they are constants to autograd and skipped by optimizers. */
  requiresGrad: boolean;

  constructor(data: Tensor, requiresGrad = true) {
    super(data.shape, data.dtype, Parameter.share(data));
    this.requiresGrad = requiresGrad;
    keep(this);
    data.dispose();
  }

  private static share(t: Tensor) {
    const s = t.storage('Parameter');
    s.refs++;
    return s;
  }

  /** Frees the values and the gradient. */
  override dispose(): void {
    this.grad?.dispose();
    this.grad = null;
    super.dispose();
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording anything (evaluation: no activations are kept). Works for async fn too. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    gradEnabled = prev;
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      gradEnabled = prev;
    }) as T;
  }
  gradEnabled = prev;
  return result;
}

/** Re-enables recording inside a noGrad region. */
export function enableGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Whether a tensor takes part in a gradient computation (a trainable parameter or a recorded result of one). */
export function requiresGrad(t: Tensor): boolean {
  if (t instanceof Parameter) return t.requiresGrad;
  const e = producer.get(t);
  return !!e?.node && !e.freed;
}

/** Tensors among an op's arguments (top-level, or inside array arguments), in order. */
export function tensorsOf(args: readonly unknown[]): Tensor[] {
  const out: Tensor[] = [];
  for (const a of args) {
    if (a instanceof Tensor) out.push(a);
    else if (Array.isArray(a)) for (const b of a) if (b instanceof Tensor) out.push(b);
  }
  return out;
}

/** Records an op's result on the tape (called by `op` in ./op.ts). */
export function record<A extends unknown[], S>(
  op: string,
  args: A,
  out: Tensor,
  saved: S,
  ownedSaved: Tensor[],
  backward: (ctx: Ctx<A, S>, dy: Tensor) => Grads,
): void {
  const inputs = tensorsOf(args);
  const needs = inputs.map(requiresGrad);
  const any = needs.some(Boolean);
  const entry: Entry = {
    op,
    out,
    ownedSaved,
    freed: false,
    node: any
      ? {
          inputs,
          needs,
          ctx: { args, inputs, out, saved, needs } as Ctx<unknown[], unknown>,
          backward: backward as Entry['node'] extends infer N ? (N extends { backward: infer B } ? B : never) : never,
        }
      : null,
  };
  if (!any) {
    for (const t of ownedSaved) t.dispose();
    entry.ownedSaved = [];
  }
  tape.push(entry);
  producer.set(out, entry);
}

/**
 * Asks the next `backward()` to keep this intermediate tensor's gradient (PyTorch's
 * `retain_grad`); read it with `retainedGrad`. The tensor must be a recorded op result. If no
 * input of its op needs a gradient (frozen parameters, a plain input), it becomes a gradient
 * source itself, so the ops after it are recorded and its gradient is computed, while nothing
 * before it is differentiated (what Grad-CAM needs: d logit / d activation, no weight gradients).
 */
export function retainGrad(t: Tensor): void {
  const e = producer.get(t);
  if (!e || e.freed) throw new Error(`retainGrad: ${t.toString()} is not a recorded op result (computed under noGrad, or its graph was freed)`);
  if (!e.node) {
    const ctx = { args: [], inputs: [], out: t, saved: undefined, needs: [] } as Ctx<unknown[], unknown>;
    e.node = { inputs: [], needs: [], ctx, backward: () => [] };
  }
  retained.add(t);
}

/** The gradient the last backward() kept for a `retainGrad` tensor (the caller owns and disposes it), or null. */
export function retainedGrad(t: Tensor): Tensor | null {
  const g = retainedGrads.get(t) ?? null;
  retainedGrads.delete(t);
  return g;
}

/** Number of entries on the tape (tests). */
export function tapeLength(): number {
  return tape.length;
}

/** Drops (and disposes) everything recorded so far without computing gradients. */
export function clearTape(except?: Tensor): void {
  for (const e of tape) {
    e.freed = true;
    if (e.out !== except) e.out.dispose();
    for (const t of e.ownedSaved) t.dispose();
    e.ownedSaved = [];
    e.node = null;
  }
  tape = [];
}

/**
 * A tensor with the same values that the tape does not own (a view: no copy), so it survives
 * `backward()`; the caller disposes it. Use it to keep logits for metrics after backward.
 */
export function detach(t: Tensor): Tensor {
  return t.view(t.shape);
}

function accumulate(map: Map<Tensor, Tensor>, key: Tensor, g: Tensor): void {
  const prev = map.get(key);
  if (!prev) {
    map.set(key, g);
    return;
  }
  map.set(key, add(prev, g));
  prev.dispose();
  g.dispose();
}

/**
 * Reverse-mode pass from `root` (a scalar unless `gradient` is given). Synchronous: it records the
 * gradient kernels and returns; `await loss.backward()` is harmless. Frees the graph afterwards.
 */
export function backward(root: Tensor, gradient?: Tensor): void {
  if (freedRoots.has(root)) {
    throw new Error(
      `backward: the graph of this tensor ${root.toString()} was already freed by a previous backward(); recompute the forward pass to backpropagate again`,
    );
  }
  const rootEntry = producer.get(root);
  if (!rootEntry?.node || rootEntry.freed) {
    if (rootEntry?.freed)
      throw new Error(`backward: the graph of ${root.toString()} was already freed by a backward() on another tensor; recompute the forward pass`);
    throw new Error(`backward: ${root.toString()} does not require grad (computed under noGrad, outside autograd ops, or only from frozen parameters)`);
  }
  if (!gradient && root.size !== 1) throw new Error(`backward: root of shape [${root.shape.join(',')}] is not a scalar; pass a gradient of the same shape`);
  if (gradient && gradient.shape.join(',') !== root.shape.join(','))
    throw new Error(`backward: gradient shape [${gradient.shape.join(',')}] differs from root shape [${root.shape.join(',')}]`);
  const start = tape.indexOf(rootEntry);
  const grads = new Map<Tensor, Tensor>();
  try {
    noGrad(() => walk(grads));
  } finally {
    // Also after a rule threw: the entries walked so far are freed, so the graph cannot be
    // backpropagated again (recompute the forward pass); nothing is left behind.
    for (const g of grads.values()) g.dispose();
    clearTape(root);
    freedRoots.add(root);
  }

  function walk(grads: Map<Tensor, Tensor>): void {
    grads.set(root, gradient ? gradient.view(gradient.shape) : onesOf(root));
    for (let i = start; i >= 0; i--) {
      const e = tape[i];
      // Every op that reads e's output or saved tensors in its gradient rule came after it and
      // has run (or is e itself, just below): they go back to the pool now rather than at the
      // end, so the activations of the layers already done are reused by the gradients of the
      // ones still to come. Work is ordered on the one queue: a buffer is reused only after the
      // kernels recorded before.
      const dy = e.node ? grads.get(e.out) : undefined;
      if (e.node && dy) {
        grads.delete(e.out);
        try {
          step(e.op, e.out, e.ownedSaved, e.node, dy);
        } finally {
          dy.dispose();
        }
      }
      if (e.out !== root) e.out.dispose();
      for (const t of e.ownedSaved) t.dispose();
      e.ownedSaved = [];
    }
  }

  function step(op: string, out: Tensor, ownedSaved: Tensor[], node: NonNullable<Entry['node']>, dy: Tensor): void {
    if (retained.has(out)) {
      retainedGrads.get(out)?.dispose();
      retainedGrads.set(out, keep(dy.view(dy.shape)));
    }
    let gs: Grads;
    try {
      gs = scope(() => node.backward(node.ctx, dy) as Tensor[]);
    } catch (err) {
      throw new Error(`backward of ${op} [${out.shape.join(',')}]: ${(err as Error).message}`, { cause: err });
    }
    const seen = new Set<Tensor>();
    const held = (t: Tensor) => t === dy || t === out || ownedSaved.includes(t) || node.inputs.includes(t);
    // Returned for inputs that need none: freed below unless another input took it.
    const unused = new Set<Tensor>();
    try {
      node.inputs.forEach(accumulateInput);
    } catch (err) {
      // A gradient of the wrong shape: the ones not handed on yet are freed with the graph.
      for (const g of gs) if (g && !seen.has(g) && !held(g)) g.dispose();
      throw err;
    }
    for (const t of unused) if (!seen.has(t) && !held(t)) t.dispose();

    function accumulateInput(x: Tensor, k: number): void {
      let g = gs[k];
      if (!g || !node.needs[k]) {
        if (g) unused.add(g);
        return;
      }
      if (g.shape.join(',') !== x.shape.join(','))
        throw new Error(`backward of ${op}: gradient for input ${k} has shape [${g.shape.join(',')}], input has [${x.shape.join(',')}]`);
      // Mixed precision: a gradient takes its input's dtype (PyTorch's engine casts the same way),
      // e.g. a float16 activation added to a float32 tensor gets the float32 sum's gradient in float16.
      if (g.dtype !== x.dtype) {
        const c = cast(g, x.dtype);
        // dy itself, one gradient returned for several inputs, or a tensor of the tape's, is still needed.
        if (!held(g) && !gs.some((o, j) => j !== k && o === g)) g.dispose();
        g = c;
      }
      // A parameter's gradient gets a buffer of its own (the loss scaler divides gradients in place).
      // A rule may return dy, one tensor for several inputs, or a tensor the tape frees next
      // (its op's output or saved tensors) or does not own (an input): the gradient gets its
      // own reference.
      if (held(g) || seen.has(g)) g = x instanceof Parameter ? contiguous(g) : g.view(g.shape);
      seen.add(g);
      if (x instanceof Parameter) {
        if (!x.requiresGrad) {
          g.dispose();
          return;
        }
        if (x.grad) {
          const s = add(x.grad, g);
          x.grad.dispose();
          g.dispose();
          x.grad = keep(s);
        } else x.grad = keep(g);
      } else {
        accumulate(grads, x, g);
      }
    }
  }
}

function onesOf(t: Tensor): Tensor {
  return full(t.shape, 1);
}

declare module '@cxr/tensor' {
  interface Tensor {
    /** Reverse-mode autograd from this (scalar) tensor; installed by @cxr/nn. */
    backward(gradient?: Tensor): void;
  }
}

(Tensor.prototype as unknown as { backward: (this: Tensor, g?: Tensor) => void }).backward = function (this: Tensor, g?: Tensor) {
  backward(this, g);
};

/**
 * Hands tensors a composite op created (constants such as loss targets) to the tape, which frees
 * them after backward; without recording (noGrad) they are disposed at once after `use`.
 */
export function withConstants<R>(constants: Tensor[], use: () => R): R {
  if (!gradEnabled) {
    try {
      return use();
    } finally {
      for (const t of constants) t.dispose();
    }
  }
  for (const t of constants) {
    const entry: Entry = { op: 'constant', out: t, node: null, ownedSaved: [], freed: false };
    tape.push(entry);
  }
  return use();
}
