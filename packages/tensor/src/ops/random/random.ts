import type { DType } from '../../dtype.ts';
import { checkShape, type Shape } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { grid1d, linearMain, runKernel } from '../../kernel/run.ts';
import { philoxWgsl } from './philox.wgsl.ts';

/**
 * A seeded stream of random tensors. Each call takes the next counter value, so a run that
 * restores `state` (e.g. when resuming training) draws exactly the numbers it would have drawn.
 */
export class Generator {
  constructor(
    public seed = 0,
    public calls = 0,
  ) {}

  get state(): { seed: number; calls: number } {
    return { seed: this.seed, calls: this.calls };
  }

  set state(s: { seed: number; calls: number }) {
    this.seed = s.seed;
    this.calls = s.calls;
  }

  /** Uniforms naming the next draw: key from the seed, counter words from the call number. */
  next(): Record<string, ['u32', number]> {
    const c = this.calls++;
    return {
      key0: ['u32', this.seed >>> 0],
      key1: ['u32', Math.floor(this.seed / 2 ** 32) >>> 0],
      call0: ['u32', c >>> 0],
      call1: ['u32', Math.floor(c / 2 ** 32) >>> 0],
    };
  }
}

export const defaultGenerator = new Generator(0);

/** Reseeds the default generator (as `torch.manual_seed`). */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`manualSeed: seed must be a non-negative integer, got ${seed}`);
  defaultGenerator.seed = seed;
  defaultGenerator.calls = 0;
}

export interface RandomOptions {
  seed?: number;
  generator?: Generator;
  dtype?: DType;
}

function draw(op: string, shape: Shape, valueWgsl: string, extra: Record<string, ['f32' | 'i32', number]>, options: RandomOptions, dtype: DType): Tensor {
  checkShape(op, shape);
  const gen = options.generator ?? (options.seed !== undefined ? new Generator(options.seed) : defaultGenerator);
  const t = Tensor.empty(shape, dtype, op);
  // The size is a uniform: every parameter shape of a model shares one pipeline per distribution.
  const body = `  if (i >= u.n) { return; }
  let r = philox(vec4<u32>(i, u.call0, u.call1, 0x43585221u), vec2<u32>(u.key0, u.key1));
  out_set(i, ${valueWgsl});`;
  runKernel({
    name: op,
    body: philoxWgsl + linearMain(256, body),
    outputs: { out: t },
    uniforms: { ...gen.next(), ...extra, n: ['u32', t.size] },
    workgroups: grid1d(t.size, 256),
  });
  return t;
}

/** Uniform on [low, high). */
export function rand(shape: Shape, options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  if (!(high > low)) throw new Error(`rand: need low < high, got [${low}, ${high})`);
  return draw('rand', shape, 'u.low + (u.high - u.low) * unitOpen(r.x)', { low: ['f32', low], high: ['f32', high] }, options, 'float32');
}

/** Normal with the given mean and std (Box–Muller on two uniforms of one Philox block). */
export function randn(shape: Shape, options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const expr = 'u.mean + u.stddev * sqrt(-2.0 * log(unitPositive(r.x))) * cos(6.283185307179586 * unitOpen(r.y))';
  return draw('randn', shape, expr, { mean: ['f32', options.mean ?? 0], stddev: ['f32', options.std ?? 1] }, options, 'float32');
}

/** Integers uniform on [low, high) (int32 unless `dtype` says float32). */
export function randint(low: number, high: number, shape: Shape, options: RandomOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) throw new Error(`randint: need integers low < high, got [${low}, ${high})`);
  const dtype = options.dtype ?? 'int32';
  const ty = dtype === 'int32' ? 'i32' : 'f32';
  // The high 32 bits of r.x * range are uniform on [0, range) with negligible bias.
  return draw('randint', shape, `${ty}(u.low + i32(mulhi32(r.x, u32(u.range))))`, { low: ['i32', low], range: ['i32', high - low] }, options, dtype);
}
