import * as T from '@cxr/tensor';
import type { Tensor } from '@cxr/tensor';
import { detach } from '../autograd/tape.ts';
import * as F from '../functional.ts';
import type { GroupOptions, Optimizer, StepRollback } from './optimizer.ts';

export interface GradScalerOptions {
  initScale: number;
  growthFactor: number;
  backoffFactor: number;
  /** Steps without an Inf/NaN gradient before the scale grows. */
  growthInterval: number;
}

export interface GradScalerState {
  scale: number;
  growthTracker: number;
}

interface OptimizerStep {
  /** Whether a gradient was Inf/NaN; null while the device flag is being read. */
  foundInf: boolean | null;
  stepped: boolean;
  /** A fused step's outcome: true when it stepped (the flag read, the host bookkeeping rolled back if not). */
  settled: Promise<boolean> | null;
}

/** A scale the GPU can hold: it travels as an f32 uniform (1/scale too). */
const representable = (s: number) => s > 0 && Number.isFinite(Math.fround(s)) && Math.fround(1 / s) > 0;

/**
 * Dynamic loss scaling for float16 training, as torch.cuda.amp.GradScaler: the loss is multiplied
 * by `scale` before backward so that small float16 gradients do not flush to zero; the float32
 * master gradients are divided by it again, and a step whose gradients hold an Inf or NaN is
 * skipped and halves the scale. After `growthInterval` clean steps the scale doubles. As in
 * PyTorch, each optimizer of a step is unscaled and checked on its own, and `update()` ends the step.
 *
 * Unless `unscale` was called for it (to clip gradients), `step` is PyTorch's fused-optimizer path:
 * a read-only check sets a device flag, and the optimizer kernels take 1/scale and skip themselves
 * when the flag is set, so the gradients get no write pass and recording never waits for the flag
 * mid-step. The flag is read after the step is recorded; on Inf/NaN the optimizer's host
 * bookkeeping (step counts, fresh state) is rolled back. `update()` waits for it: await it.
 */
export class GradScaler {
  readonly options: GradScalerOptions;
  private currentScale: number;
  private growthTracker = 0;
  /** This step's optimizers: whether each had an Inf/NaN gradient, and whether it has stepped. */
  private readonly perOptimizer = new Map<object, OptimizerStep>();
  /** The pending `update()`, while it waits for this step's flags. */
  private updating: Promise<void> | null = null;

  constructor(options: Partial<GradScalerOptions> = {}) {
    this.options = { initScale: 2 ** 16, growthFactor: 2, backoffFactor: 0.5, growthInterval: 2000, ...options };
    const o = this.options;
    if (!representable(o.initScale)) throw new Error(`GradScaler: initScale must be a positive float32 number, got ${o.initScale}`);
    if (!(o.growthFactor > 1)) throw new Error(`GradScaler: growthFactor must be > 1, got ${o.growthFactor}`);
    if (!(o.backoffFactor > 0 && o.backoffFactor < 1)) throw new Error(`GradScaler: backoffFactor must be in (0, 1), got ${o.backoffFactor}`);
    if (!(Number.isInteger(o.growthInterval) && o.growthInterval >= 1))
      throw new Error(`GradScaler: growthInterval must be an integer >= 1, got ${o.growthInterval}`);
    this.currentScale = o.initScale;
  }

  get scaleValue(): number {
    return this.currentScale;
  }

  /** loss · scale, on the tape (call backward on the result). */
  scale(loss: Tensor): Tensor {
    this.refuseWhileUpdating('scale');
    return F.mul(loss, this.currentScale);
  }

  /**
   * Divides this optimizer's gradients by the scale in place and finds whether any is Inf or NaN
   * (one readback). Call it before clipping gradients; `step` calls it if it was not.
   */
  async unscale<O extends GroupOptions>(optimizer: Optimizer<O>): Promise<boolean> {
    this.refuseWhileUpdating('unscale');
    if (this.perOptimizer.has(optimizer))
      throw new Error('GradScaler: unscale was already called for this optimizer in this step (call update() after step())');
    const found = T.zeros([1]);
    try {
      T.nonFiniteCheckAndUnscale(gradients(optimizer), found, 1 / this.currentScale);
      const foundInf = (await found.item()) !== 0;
      this.perOptimizer.set(optimizer, { foundInf, stepped: false, settled: null });
      return foundInf;
    } finally {
      found.dispose();
    }
  }

  /**
   * Steps the optimizer unless a gradient was Inf/NaN; resolves to true when it stepped. After
   * `unscale`, as before; otherwise the fused path: the check and the step are recorded at once
   * and the flag's readback starts behind them (awaiting the result waits for the step's work).
   */
  async step<O extends GroupOptions>(optimizer: Optimizer<O>): Promise<boolean> {
    this.refuseWhileUpdating('step');
    let s = this.perOptimizer.get(optimizer);
    // Where the fused kernels cannot bind a parameter's tensors (`lossScaleStepFits`) it takes the
    // unscale path: gradients divided in place, the flag read, the step on the host.
    if (!s && !optimizer.paramGroups.every((g) => g.params.every((p) => T.lossScaleStepFits(p)))) {
      await this.unscale(optimizer);
      s = this.perOptimizer.get(optimizer);
    }
    if (s) {
      if (s.stepped) throw new Error('GradScaler: step() was already called for this optimizer in this step (call update() first)');
      s.stepped = true;
      if (s.foundInf) return false;
      optimizer.step();
      return true;
    }
    const found = T.keep(T.zeros([1]));
    let rollback: StepRollback;
    try {
      T.nonFiniteCheck(gradients(optimizer), found);
      rollback = optimizer.step({ gradScale: 1 / this.currentScale, skipIf: found });
    } catch (e) {
      found.dispose();
      throw e;
    }
    const entry: OptimizerStep = { foundInf: null, stepped: true, settled: null };
    entry.settled = found
      .item()
      .then((v) => {
        entry.foundInf = v !== 0;
        if (entry.foundInf) rollback();
        return !entry.foundInf;
      })
      .finally(() => found.dispose());
    this.perOptimizer.set(optimizer, entry);
    return entry.settled;
  }

  /**
   * Backs off if any optimizer of this step met an Inf/NaN gradient, grows after `growthInterval`
   * clean steps; ends the step. Resolves once this step's flags are read (at once when they
   * already are); the next step's `scale`/`unscale`/`step` are refused until then.
   */
  update(): Promise<void> {
    this.refuseWhileUpdating('update');
    if (this.perOptimizer.size === 0) throw new Error('GradScaler: update() before unscale()/step() in this step');
    const steps = [...this.perOptimizer.values()];
    this.perOptimizer.clear();
    const finish = () => {
      const o = this.options;
      if (steps.some((s) => s.foundInf)) {
        const next = this.currentScale * o.backoffFactor;
        if (representable(next)) this.currentScale = next;
        this.growthTracker = 0;
      } else if (++this.growthTracker >= o.growthInterval) {
        const next = this.currentScale * o.growthFactor;
        if (representable(next)) this.currentScale = next;
        this.growthTracker = 0;
      }
    };
    if (steps.every((s) => s.foundInf !== null)) {
      finish();
      return Promise.resolve();
    }
    this.updating = Promise.all(steps.map((s) => s.settled))
      .then(finish)
      .finally(() => {
        this.updating = null;
      });
    return this.updating;
  }

  private refuseWhileUpdating(what: string): void {
    if (this.updating) throw new Error(`GradScaler: ${what}() while update() is still reading the last step's flags (await update())`);
  }

  /**
   * One mixed-precision training step for one optimizer: backward of the scaled loss, `step`,
   * `update`. Returns the loss (kept past backward, which frees the graph below the scaled root:
   * the caller reads and disposes it) and whether the optimizer stepped.
   */
  async backwardAndStep<O extends GroupOptions>(loss: Tensor, optimizer: Optimizer<O>): Promise<{ loss: Tensor; stepped: boolean }> {
    const kept = detach(loss);
    const scaled = this.scale(loss);
    scaled.backward();
    scaled.dispose();
    // The step's flag is read once all of it is recorded: nothing is left to record behind it.
    const stepped = await this.step(optimizer);
    await this.update();
    return { loss: kept, stepped };
  }

  stateDict(): GradScalerState {
    this.refuseWhileUpdating('stateDict');
    return { scale: this.currentScale, growthTracker: this.growthTracker };
  }

  loadStateDict(s: GradScalerState): void {
    this.refuseWhileUpdating('loadStateDict');
    if (!representable(s.scale) || !(Number.isInteger(s.growthTracker) && s.growthTracker >= 0))
      throw new Error(`GradScaler: invalid saved state ${JSON.stringify(s)}`);
    this.currentScale = s.scale;
    this.growthTracker = s.growthTracker;
  }
}

/** The gradients an optimizer's step would use. */
function gradients<O extends GroupOptions>(optimizer: Optimizer<O>): Tensor[] {
  return optimizer.paramGroups.flatMap((g) => g.params.filter((p) => p.requiresGrad && p.grad).map((p) => p.grad as Tensor));
}
