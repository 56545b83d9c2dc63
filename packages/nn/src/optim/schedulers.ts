import type { GroupOptions, Optimizer } from './optimizer.ts';

/**
 * Learning-rate schedules as pure functions of the step count (`lrAt(epoch, baseLr)`), applied to
 * every parameter group from its initial lr. `step()` advances one epoch (or iteration) and sets
 * the groups' lr. Compose by nesting: `new LinearWarmup(opt, { steps: 5, after: new CosineAnnealingLR(opt, { tMax: 95 }) })`.
 */
export abstract class LRScheduler {
  lastEpoch = 0;
  readonly baseLrs: number[];
  constructor(readonly optimizer: Optimizer<GroupOptions>) {
    for (const g of optimizer.paramGroups) if (g.initialLr === undefined) g.initialLr = g.lr;
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr!);
  }
  abstract lrAt(epoch: number, base: number): number;
  protected apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = this.lrAt(this.lastEpoch, this.baseLrs[i]);
    });
  }
  step(): void {
    this.lastEpoch++;
    this.apply();
  }
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
  stateDict(): { lastEpoch: number } {
    return { lastEpoch: this.lastEpoch };
  }
  loadStateDict(s: { lastEpoch: number }): void {
    this.lastEpoch = s.lastEpoch;
    this.apply();
  }
}

/** lr = base · γ^⌊epoch / stepSize⌋ (torch StepLR). */
export class StepLR extends LRScheduler {
  constructor(
    opt: Optimizer<GroupOptions>,
    readonly options: { stepSize: number; gamma?: number },
  ) {
    super(opt);
    if (!(options.stepSize >= 1)) throw new Error(`StepLR: stepSize must be >= 1, got ${options.stepSize}`);
    this.apply();
  }
  lrAt(epoch: number, base: number): number {
    return base * (this.options.gamma ?? 0.1) ** Math.floor(epoch / this.options.stepSize);
  }
}

/** lr = ηmin + (base - ηmin)(1 + cos(π·epoch/tMax))/2 (torch CosineAnnealingLR's closed form); flat at ηmin after tMax. */
export class CosineAnnealingLR extends LRScheduler {
  constructor(
    opt: Optimizer<GroupOptions>,
    readonly options: { tMax: number; etaMin?: number },
  ) {
    super(opt);
    if (!(options.tMax >= 1)) throw new Error(`CosineAnnealingLR: tMax must be >= 1, got ${options.tMax}`);
    this.apply();
  }
  lrAt(epoch: number, base: number): number {
    const etaMin = this.options.etaMin ?? 0;
    const e = Math.min(epoch, this.options.tMax);
    return etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * e) / this.options.tMax))) / 2;
  }
}

/**
 * Linear warm-up from startFactor·base to base over `steps` (torch LinearLR with end 1), then
 * hands over to `after` (counting its epochs from the end of the warm-up), or stays at base.
 */
export class LinearWarmup extends LRScheduler {
  constructor(
    opt: Optimizer<GroupOptions>,
    readonly options: { steps: number; startFactor?: number; after?: LRScheduler },
  ) {
    super(opt);
    if (!(options.steps >= 1)) throw new Error(`LinearWarmup: steps must be >= 1, got ${options.steps}`);
    this.apply();
  }
  lrAt(epoch: number, base: number): number {
    const s = this.options.startFactor ?? 1 / 3;
    if (epoch < this.options.steps) return base * (s + ((1 - s) * epoch) / this.options.steps);
    return this.options.after ? this.options.after.lrAt(epoch - this.options.steps, base) : base;
  }
}
