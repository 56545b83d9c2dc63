import * as T from '@cxr/tensor';
import type { Tensor } from '@cxr/tensor';
import { Parameter } from './autograd/tape.ts';
import { nameMatcher } from './nameGlob.ts';
import { compareStateDicts, stateDictMismatchMessage } from './stateDictCheck.ts';

export type StateDict = Map<string, Tensor>;

/** Called after a module's forward with its inputs and output (PyTorch's forward hook); it must not change them. */
export type ForwardHook = (module: Module, inputs: Tensor[], output: Tensor) => void;

export interface RemovableHandle {
  remove(): void;
}

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * Base class of layers, as torch.nn.Module. Parameters (`Parameter`) and submodules assigned to
 * properties are found automatically under the property's name (`this.fc = new Linear(...)` is
 * `fc.weight`); `registerBuffer`/`registerParameter`/`registerModule` give PyTorch names that are
 * not JS names (`running_mean`, `0`). Order: parameters, buffers, then children (as PyTorch).
 */
export class Module {
  training = true;
  private readonly _params = new Map<string, Parameter | null>();
  private readonly _buffers = new Map<string, Tensor | null>();
  private readonly _modules = new Map<string, Module | null>();

  registerParameter<P extends Parameter | null>(name: string, p: P): P {
    this._params.set(name, p);
    return p;
  }

  registerBuffer<B extends Tensor | null>(name: string, t: B): B {
    if (t) T.keep(t);
    this._buffers.set(name, t);
    return t;
  }

  registerModule<M extends Module | null>(name: string, m: M): M {
    this._modules.set(name, m);
    return m;
  }

  /** Replaces a registered buffer (e.g. after loading) keeping its name. */
  setBuffer(name: string, t: Tensor): void {
    if (!this._buffers.has(name)) throw new Error(`setBuffer: no buffer '${name}'`);
    this._buffers.get(name)?.dispose();
    this._buffers.set(name, T.keep(t));
  }

  getBuffer(name: string): Tensor {
    const t = this._buffers.get(name);
    if (!t) throw new Error(`getBuffer: no buffer '${name}'`);
    return t;
  }

  private ownEntries(): { params: [string, Parameter][]; buffers: [string, Tensor][]; modules: [string, Module][] } {
    const params: [string, Parameter][] = [];
    const modules: [string, Module][] = [];
    const buffers: [string, Tensor][] = [];
    const seen = new Set<unknown>();
    for (const [n, p] of this._params)
      if (p) {
        params.push([n, p]);
        seen.add(p);
      }
    for (const [n, b] of this._buffers)
      if (b) {
        buffers.push([n, b]);
        seen.add(b);
      }
    for (const [n, m] of this._modules)
      if (m) {
        modules.push([n, m]);
        seen.add(m);
      }
    for (const [k, v] of Object.entries(this)) {
      if (k.startsWith('_') || seen.has(v)) continue;
      if (v instanceof Parameter) {
        params.push([k, v]);
        seen.add(v);
      } else if (v instanceof Module) {
        modules.push([k, v]);
        seen.add(v);
      }
    }
    return { params, buffers, modules };
  }

  /** Immediate submodules with their names. */
  namedChildren(): [string, Module][] {
    return this.ownEntries().modules;
  }

  /** This module and every descendant, with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this.namedChildren()) out.push(...m.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /**
   * Each parameter once, under the first name it is reached by (torch's `remove_duplicate=True`):
   * a weight shared by two submodules (tied weights) is one parameter, so an optimizer accepts
   * the list and `clipGradNorm` counts and scales its gradient once, not twice. `stateDict` still
   * lists every name, as PyTorch's does.
   */
  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    const walk = (m: Module, pre: string) => {
      const e = m.ownEntries();
      for (const [n, p] of e.params)
        if (!seen.has(p)) {
          seen.add(p);
          out.push([pre ? `${pre}.${n}` : n, p]);
        }
      for (const [n, c] of e.modules) walk(c, pre ? `${pre}.${n}` : n);
    };
    walk(this, prefix);
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Parameters that are not frozen. */
  trainableParameters(): Parameter[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const e = this.ownEntries();
    for (const [n, b] of e.buffers) out.push([prefix ? `${prefix}.${n}` : n, b]);
    for (const [n, m] of e.modules) out.push(...m.namedBuffers(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /** Parameters and buffers by dotted name, in PyTorch's order (live tensors, not copies). */
  stateDict(prefix = ''): StateDict {
    const out: StateDict = new Map();
    const e = this.ownEntries();
    const p = (n: string) => (prefix ? `${prefix}.${n}` : n);
    for (const [n, t] of e.params) out.set(p(n), t);
    for (const [n, t] of e.buffers) out.set(p(n), t);
    for (const [n, m] of e.modules) for (const [k, v] of m.stateDict(p(n))) out.set(k, v);
    return out;
  }

  /**
   * Copies values in (parameters keep their identity). Mis-shaped keys are always an error;
   * with `strict` (default) missing and unexpected keys are too. The error lists all three.
   */
  loadStateDict(dict: Map<string, Tensor> | Record<string, Tensor>, options: { strict?: boolean } = {}): LoadResult {
    const strict = options.strict ?? true;
    const src = dict instanceof Map ? dict : new Map(Object.entries(dict));
    const own = this.stateDict();
    const check = compareStateDicts(own, src, 'checkpoint');
    const mismatch = stateDictMismatchMessage('loadStateDict: the state dict does not match the model', check, strict);
    if (mismatch) throw new Error(mismatch);
    for (const [k, t] of own) {
      const s = src.get(k);
      if (s && s !== t) T.copyInto(t, s);
    }
    return { missingKeys: check.missing, unexpectedKeys: check.unexpected };
  }

  /** Sets training mode here and below (BatchNorm and Dropout behave differently). */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Freezes parameters selected by name globs (nameGlob.ts: `*` within a dotted segment, `**`
   * across, a bare prefix its subtree: `layer1` → `layer1.0.conv1.weight`, …). Frozen parameters
   * get no gradient and no optimizer update. Returns the frozen names; a pattern matching nothing
   * is an error.
   */
  freeze(patterns: string | readonly string[]): string[] {
    return this.setRequiresGrad(patterns, false, 'freeze');
  }

  unfreeze(patterns: string | readonly string[] = '**'): string[] {
    return this.setRequiresGrad(patterns, true, 'unfreeze');
  }

  private setRequiresGrad(patterns: string | readonly string[], value: boolean, op: string): string[] {
    const list = typeof patterns === 'string' ? [patterns] : [...patterns];
    const named = this.namedParameters();
    const names: string[] = [];
    for (const pat of list) {
      const m = nameMatcher(pat);
      const hit = named.filter(([n]) => m(n));
      if (hit.length === 0) {
        const tops = [...new Set(named.map(([n]) => n.split('.')[0]))];
        const hint = /[*?]/.test(pat) ? '; `*` stays within one dotted segment, `**` crosses segments' : '';
        throw new Error(`${op}: '${pat}' matches no parameter (top-level names: ${tops.join(', ')})${hint}`);
      }
      for (const [n, p] of hit) {
        p.requiresGrad = value;
        if (!value) {
          p.grad?.dispose();
          p.grad = null;
        }
        if (!names.includes(n)) names.push(n);
      }
    }
    return names;
  }

  /** Disposes gradients of every parameter (optimizers do this too). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
    for (const [, b] of this.namedBuffers()) b.dispose();
  }

  /**
   * Runs `hook` after every forward of this module until the handle is removed. Parents call
   * children's `forward` directly, so the hook is installed as an instance-level `forward` that
   * wraps the class's own; removing the last hook restores the class's method.
   */
  registerForwardHook(hook: ForwardHook): RemovableHandle {
    const self = this as unknown as { _forwardHooks?: ForwardHook[]; forward: (...a: Tensor[]) => Tensor };
    if (!self._forwardHooks) {
      const hooks: ForwardHook[] = [];
      const own = self.forward;
      Object.defineProperty(this, '_forwardHooks', { value: hooks, configurable: true, enumerable: false });
      Object.defineProperty(this, 'forward', {
        configurable: true,
        enumerable: false,
        writable: true,
        value: (...args: Tensor[]) => {
          const out = own.apply(this, args);
          for (const h of [...hooks]) h(this, args, out);
          return out;
        },
      });
    }
    const list = self._forwardHooks!;
    list.push(hook);
    return {
      remove: () => {
        const k = list.indexOf(hook);
        if (k >= 0) list.splice(k, 1);
        if (list.length === 0 && self._forwardHooks === list) {
          delete (this as unknown as Record<string, unknown>).forward;
          delete (this as unknown as Record<string, unknown>)._forwardHooks;
        }
      },
    };
  }

  /** The submodule at a dotted name (`layer4`, `features.29`), as PyTorch's `get_submodule`. */
  getSubmodule(name: string): Module {
    if (name === '') return this;
    const found = this.namedModules().find(([n]) => n === name);
    if (!found) {
      const names = this.namedModules()
        .map(([n]) => n)
        .filter((n) => n && !n.includes('.'));
      throw new Error(`getSubmodule: no module named '${name}' (top-level modules: ${names.join(', ')})`);
    }
    return found[1];
  }

  forward(..._args: Tensor[]): Tensor {
    throw new Error(`${this.constructor.name}: forward() is not implemented`);
  }

  /** Same as forward (PyTorch's __call__). */
  call(...args: Tensor[]): Tensor {
    return this.forward(...args);
  }
}
