import * as T from '@cxr/tensor';
import type { Tensor } from '@cxr/tensor';
import * as F from '../functional.ts';
import type { GroupOptions, Optimizer } from './optimizer.ts';

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

/**
 * Dynamic loss scaling for float16 training, as torch.cuda.amp.GradScaler: the loss is multiplied
 * by `scale` before backward so that small float16 gradients do not flush to zero; the float32
 * master gradients are divided by it again, and a step whose gradients hold an Inf or NaN is
 * skipped and halves the scale. After `growthInterval` clean steps the scale doubles.
 */
export class GradScaler {
  readonly options: GradScalerOptions;
  private currentScale: number;
  private growthTracker = 0;
  /** Set by `unscale` for the current step: null before it. */
  private foundInf: boolean | null = null;

  constructor(options: Partial<GradScalerOptions> = {}) {
    this.options = { initScale: 2 ** 16, growthFactor: 2, backoffFactor: 0.5, growthInterval: 2000, ...options };
    const o = this.options;
    if (!(o.initScale > 0 && Number.isFinite(o.initScale))) throw new Error(`GradScaler: initScale must be a positive number, got ${o.initScale}`);
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
    return F.mul(loss, this.currentScale);
  }

  /**
   * Divides the optimizer's gradients by the scale in place and finds whether any is Inf or NaN
   * (one readback). Call it before clipping gradients; `step` calls it if it was not.
   */
  async unscale<O extends GroupOptions>(optimizer: Optimizer<O>): Promise<boolean> {
    if (this.foundInf !== null) throw new Error('GradScaler: unscale was already called for this step (call update() after step())');
    const grads = optimizer.paramGroups.flatMap((g) => g.params.filter((p) => p.requiresGrad && p.grad).map((p) => p.grad as Tensor));
    const found = T.zeros([1]);
    try {
      T.nonFiniteCheckAndUnscale(grads, found, 1 / this.currentScale);
      this.foundInf = (await found.item()) !== 0;
    } finally {
      found.dispose();
    }
    return this.foundInf;
  }

  /** Unscales (if not yet) and runs `optimizer.step()` unless a gradient was Inf/NaN; true when it stepped. */
  async step<O extends GroupOptions>(optimizer: Optimizer<O>): Promise<boolean> {
    if (this.foundInf === null) await this.unscale(optimizer);
    if (this.foundInf) return false;
    optimizer.step();
    return true;
  }

  /** Backs off after a skipped step, grows after `growthInterval` clean ones; ends the step. */
  update(): void {
    if (this.foundInf === null) throw new Error('GradScaler: update() before unscale()/step() in this step');
    const o = this.options;
    if (this.foundInf) {
      this.currentScale *= o.backoffFactor;
      this.growthTracker = 0;
    } else if (++this.growthTracker >= o.growthInterval) {
      // Growth stops where float32 itself would overflow the scale.
      if (Number.isFinite(this.currentScale * o.growthFactor)) this.currentScale *= o.growthFactor;
      this.growthTracker = 0;
    }
    this.foundInf = null;
  }

  stateDict(): GradScalerState {
    return { scale: this.currentScale, growthTracker: this.growthTracker };
  }

  loadStateDict(s: GradScalerState): void {
    if (!(s.scale > 0 && Number.isFinite(s.scale)) || !(Number.isInteger(s.growthTracker) && s.growthTracker >= 0))
      throw new Error(`GradScaler: invalid saved state ${JSON.stringify(s)}`);
    this.currentScale = s.scale;
    this.growthTracker = s.growthTracker;
  }
}
