import * as T from '@cxr/tensor';
import { Tensor } from '@cxr/tensor';
import { Parameter } from '../autograd/tape.ts';

export interface GroupOptions {
  lr: number;
}

export type ParamGroup<O extends GroupOptions> = O & { params: Parameter[]; initialLr?: number };

export type ParamsArg<O extends GroupOptions> = Iterable<Parameter> | (Partial<O> & { params: Iterable<Parameter> })[];

export type ParamState = Record<string, Tensor | number>;

/** The loss scaler's options of a step (see @cxr/tensor's `LossScaleStepOptions`). */
export interface StepOptions {
  /** Multiplies every gradient before use (1/scale: the unscale without a write pass). */
  gradScale?: number;
  /** float32 [1] device flag: when nonzero, the kernels write nothing. */
  skipIf?: Tensor;
}

/**
 * Undoes the host bookkeeping of a step whose kernels were skipped on the device (its `skipIf`
 * flag read nonzero): step counts, first-step flags and lazily created state end as if step()
 * had not been called. Only a step given `skipIf` can be rolled back.
 */
export type StepRollback = () => void;

export interface OptimizerStateDict {
  /** Per-parameter state by index of the parameter across all groups (in group order). */
  state: Map<number, ParamState>;
  paramGroups: Record<string, number | boolean | number[]>[];
}

/**
 * Base of the optimizers: parameter groups with their own options, per-parameter state, and
 * a fused update kernel per parameter (`update`). Parameters that are frozen (`requiresGrad`
 * false) or have no gradient are skipped, as PyTorch skips parameters whose grad is None.
 */
export abstract class Optimizer<O extends GroupOptions> {
  readonly paramGroups: ParamGroup<O>[];
  readonly state = new Map<Parameter, ParamState>();

  constructor(
    params: ParamsArg<O>,
    readonly defaults: O,
  ) {
    const list = [...(params as Iterable<unknown>)];
    const isGroups = list.length > 0 && !(list[0] instanceof Parameter);
    const specs = (isGroups ? list : [{ params: list }]) as (Partial<O> & { params: Iterable<Parameter> })[];
    const seen = new Set<Parameter>();
    this.paramGroups = specs.map((s, gi) => {
      const ps = [...s.params];
      for (const p of ps) {
        if (!(p instanceof Parameter)) throw new Error(`${this.constructor.name}: group ${gi} holds a non-Parameter`);
        if (seen.has(p)) throw new Error(`${this.constructor.name}: a parameter appears in more than one group`);
        seen.add(p);
      }
      const g = { ...defaults, ...s, params: ps } as ParamGroup<O>;
      this.validate(g, gi);
      return g;
    });
  }

  protected validate(g: ParamGroup<O>, gi: number): void {
    if (!(g.lr >= 0)) throw new Error(`${this.constructor.name}: group ${gi} has invalid lr ${g.lr}`);
  }

  /** Records one fused update kernel for parameter p (which has a gradient). */
  protected abstract update(p: Parameter, grad: Tensor, group: ParamGroup<O>, state: ParamState, options: StepOptions): void;

  /**
   * Records one update of every parameter with a gradient. With `skipIf`, whether it happens is
   * decided on the device, after recording: the returned rollback restores the host state if not.
   */
  step(options: StepOptions = {}): StepRollback {
    // The state before the step, shallow (a kernel skipped on the device leaves the tensors as they were).
    const before = options.skipIf ? new Map<Parameter, ParamState | undefined>() : null;
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (!p.requiresGrad || !p.grad) continue;
        let s = this.state.get(p);
        before?.set(p, s && { ...s });
        if (!s) {
          s = {};
          this.state.set(p, s);
        }
        this.update(p, p.grad, g, s, options);
      }
    }
    return () => {
      if (!before) throw new Error(`${this.constructor.name}: only a step given skipIf can be rolled back`);
      for (const [p, old] of before) {
        const s = this.state.get(p);
        if (!s) continue;
        const kept = new Set(old ? Object.values(old) : []);
        for (const v of Object.values(s)) if (v instanceof Tensor && !kept.has(v)) v.dispose();
        if (!old) {
          this.state.delete(p);
          continue;
        }
        // In place: the state object is the one the map (and a stateDict's reader) already holds.
        for (const k of Object.keys(s)) delete s[k];
        Object.assign(s, old);
      }
    };
  }

  /** Frees the gradients (PyTorch's set_to_none=True). */
  zeroGrad(): void {
    for (const g of this.paramGroups)
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
  }

  private allParams(): Parameter[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** State by parameter index and the group options (state tensors are live references). */
  stateDict(): OptimizerStateDict {
    const all = this.allParams();
    const state = new Map<number, ParamState>();
    all.forEach((p, i) => {
      const s = this.state.get(p);
      if (s) state.set(i, { ...s });
    });
    let k = 0;
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...opts } = g;
      const idx = params.map(() => k++);
      return { ...(opts as unknown as Record<string, number | boolean>), params: idx };
    });
    return { state, paramGroups };
  }

  /**
   * Restores state saved by stateDict, so training resumes exactly. The tensors are copied unless
   * `take`: then the optimizer keeps the given tensors themselves (owned by nobody else, no views
   * of them), as `cxr train --resume` does with the ones it has just read from the checkpoint (a copy
   * is a second allocation of the whole state: 1.1 GB for VGG16's Adam). Everything is checked
   * before any state changes: a refused dict leaves the optimizer as it was and the caller still
   * owns its tensors. (Taking cannot tell whether another owner holds the same tensor object,
   * e.g. another optimizer's live state: the caller promises nobody does.)
   */
  loadStateDict(sd: OptimizerStateDict, options: { take?: boolean } = {}): void {
    const name = this.constructor.name;
    if (sd.paramGroups.length !== this.paramGroups.length)
      throw new Error(`${name}.loadStateDict: ${sd.paramGroups.length} groups saved, optimizer has ${this.paramGroups.length}`);
    sd.paramGroups.forEach((sg, i) => {
      const n = (sg.params as number[]).length;
      if (n !== this.paramGroups[i].params.length)
        throw new Error(`${name}.loadStateDict: group ${i} saved with ${n} parameters, optimizer has ${this.paramGroups[i].params.length}`);
    });
    const all = this.allParams();
    const taken = new Set<Tensor>();
    for (const [i, s] of sd.state) {
      const p = all[i];
      if (!p) throw new Error(`${name}.loadStateDict: state for parameter ${i}, optimizer has ${all.length}`);
      for (const [k, v] of Object.entries(s)) {
        if (!(v instanceof Tensor)) continue;
        if (v.isDisposed) throw new Error(`${name}.loadStateDict: ${k} of parameter ${i} was disposed`);
        // The update kernels bind the state as float32, as the optimizer creates it.
        if (v.dtype !== 'float32') throw new Error(`${name}.loadStateDict: ${k} of parameter ${i} is ${v.dtype}; optimizer state is float32`);
        if (v.shape.join(',') !== p.shape.join(','))
          throw new Error(`${name}.loadStateDict: ${k} of parameter ${i} is [${v.shape.join(',')}], parameter is [${p.shape.join(',')}]`);
        // Updated in place by the step kernels: a tensor sharing its storage would change with them.
        if (!options.take) continue;
        if (v.storage().refs > 1) throw new Error(`${name}.loadStateDict: ${k} of parameter ${i} shares its storage with another tensor; it cannot be taken`);
        if (taken.has(v)) throw new Error(`${name}.loadStateDict: one tensor is given twice (${k}); each state needs its own`);
        taken.add(v);
      }
    }
    // The new state first, then the old one freed: a dict from this optimizer's own stateDict()
    // holds its live tensors, which the copies read.
    const loaded = new Map<Parameter, ParamState>();
    for (const [i, s] of sd.state) {
      const state: ParamState = {};
      for (const [k, v] of Object.entries(s)) state[k] = v instanceof Tensor ? T.keep(options.take ? v : T.contiguous(v)) : v;
      loaded.set(all[i]!, state);
    }
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor && !taken.has(v)) v.dispose();
    this.state.clear();
    for (const [p, s] of loaded) this.state.set(p, s);
    sd.paramGroups.forEach((sg, i) => {
      const { params: _p, ...opts } = sg;
      Object.assign(this.paramGroups[i], opts);
    });
  }

  /** Frees the optimizer state. */
  dispose(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
  }
}
