import type { Tensor } from '../tensor.ts';

/**
 * Scopes free the temporaries an expression creates (like tfjs `tidy`): every tensor made inside
 * `scope(fn)` is disposed when fn returns, except the tensors it returns and those passed to `keep`.
 */
const stack: Set<Tensor>[] = [];

export function track(t: Tensor): void {
  const top = stack[stack.length - 1];
  if (top) top.add(t);
}

/** Removes a tensor from the enclosing scopes so it outlives them. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

// `void` on purpose: scope(() => { ... }) bodies that return nothing are typed `void`, not `undefined`.
// biome-ignore lint/suspicious/noConfusingVoidType: see above
type Returned = Tensor | Tensor[] | Record<string, Tensor> | void | number | undefined;

function collect(value: unknown, out: Set<Tensor>): void {
  if (value && typeof value === 'object') {
    if ('shape' in value && 'dtype' in value && typeof (value as Tensor).dispose === 'function') {
      out.add(value as Tensor);
    } else if (Array.isArray(value)) {
      for (const v of value) collect(v, out);
    } else if (Object.getPrototypeOf(value) === Object.prototype) {
      for (const v of Object.values(value)) collect(v, out);
    }
  }
}

function close<T>(mine: Set<Tensor>, result: T): T {
  const kept = new Set<Tensor>();
  collect(result, kept);
  for (const t of mine) if (!kept.has(t)) t.dispose();
  const parent = stack[stack.length - 1];
  if (parent) for (const t of kept) if (mine.has(t)) parent.add(t);
  return result;
}

export function scope<T extends Returned>(fn: () => T): T {
  const mine = new Set<Tensor>();
  stack.push(mine);
  let result: T;
  try {
    result = fn();
  } finally {
    stack.pop();
  }
  return close(mine, result);
}

/** Like `scope` for async functions. Tensors other code creates across the awaits land here too. */
export async function scopeAsync<T extends Returned>(fn: () => Promise<T>): Promise<T> {
  const mine = new Set<Tensor>();
  stack.push(mine);
  let result: T;
  try {
    result = await fn();
  } finally {
    const i = stack.lastIndexOf(mine);
    if (i >= 0) stack.splice(i, 1);
  }
  return close(mine, result);
}
