import { gpu } from '../../device/device.ts';
import { fmt } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { grid1d, linearMain, pageRanges, runKernel, type TensorRange } from '../../kernel/run.ts';
import { adamStepWgsl, type ScaledStep, sgdStepWgsl } from './optim.wgsl.ts';

/**
 * Optimizer updates as one fused kernel per parameter, written in place: the parameter and its
 * state are read_write, the gradient read (never one buffer bound twice). The per-step scalars
 * are uniforms, so a changing learning rate never recompiles, and so is the size: one pipeline
 * serves every parameter of a model (ResNet-18 has 17 distinct parameter sizes, each a compile). @cxr/nn keeps the bookkeeping
 * (parameter groups, state allocation, step counts).
 */

const wg = 256;

function check(op: string, param: Tensor, others: Record<string, Tensor | null>): void {
  const buffers = new Set([param.storage(op)]);
  for (const [name, t] of Object.entries(others)) {
    if (!t) continue;
    // WebGPU forbids binding one buffer writable and again in the same dispatch.
    if (buffers.has(t.storage(op))) throw new Error(`${op}: ${name} shares its buffer with the parameter or other state`);
    buffers.add(t.storage(op));
    if (t.dtype !== 'float32' || t.shape.join() !== param.shape.join()) {
      throw new Error(`${op}: ${name} ${t.dtype} ${fmt(t.shape)} does not match the parameter float32 ${fmt(param.shape)}`);
    }
  }
}

/**
 * The loss scaler's options of a step (PyTorch's fused optimizers' `grad_scale` and `found_inf`),
 * so that unscaling needs no write pass and skipping no readback before the step is recorded.
 */
export interface LossScaleStepOptions {
  /** Multiplies each gradient element (1/scale) before it is used. */
  gradScale?: number;
  /** float32 [1] flag: when nonzero, the kernel writes nothing (parameter and state untouched). */
  skipIf?: Tensor;
}

/** The WGSL variant and its extra uniform/input, or nothing when neither option is given. */
function lossScale(
  op: string,
  param: Tensor,
  o: LossScaleStepOptions,
  state: (Tensor | null)[],
): { variant: ScaledStep | undefined; uniforms: Record<string, ['f32', number]>; inputs: Record<string, Tensor> } {
  const { gradScale, skipIf } = o;
  if (gradScale === undefined && skipIf === undefined) return { variant: undefined, uniforms: {}, inputs: {} };
  if (gradScale !== undefined && !Number.isFinite(Math.fround(gradScale)))
    throw new Error(`${op}: gradScale must be a finite float32 number, got ${gradScale}`);
  if (skipIf) {
    if (skipIf.dtype !== 'float32' || skipIf.size !== 1) throw new Error(`${op}: skipIf must be float32 [1], got ${skipIf.dtype} ${fmt(skipIf.shape)}`);
    // Read-only here, so it may not be a buffer the kernel writes.
    for (const t of [param, ...state])
      if (t && t.storage(op) === skipIf.storage(op)) throw new Error(`${op}: skipIf shares its buffer with the parameter or state`);
  }
  const variant: ScaledStep = { gradScale: gradScale !== undefined, skip: !!skipIf };
  return {
    variant,
    uniforms: gradScale !== undefined ? { gs: ['f32', gradScale] } : {},
    inputs: skipIf ? { skip: skipIf } : {},
  };
}

/**
 * Whether an optimizer kernel given `skipIf` can bind its tensors for `param`: four of its size
 * (Adam's parameter, gradient and two moments) plus the flag. The kernels run once per binding
 * page (`pageRanges`), one page of each tensor at a time, so that is 5 bindings whatever the size
 * (VGG16's 411 MB classifier weight, 4 pages on lavapipe, took 17 when all pages were bound at
 * once); where it does not fit, the loss scaler takes its unscale-then-step path.
 */
export function lossScaleStepFits(_param: Tensor): boolean {
  return 4 + 1 <= gpu().limits.maxStorageBuffersPerShaderStage;
}

export interface SgdStepOptions extends LossScaleStepOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  /** The momentum buffer is fresh: it takes d instead of μ·buf + (1 − dampening)·d. */
  firstStep: boolean;
}

/** One torch.optim.SGD update of `param` in place; `momentumBuffer` is null without momentum. */
export function sgdStep(param: Tensor, grad: Tensor, momentumBuffer: Tensor | null, o: SgdStepOptions): void {
  check('sgdStep', param, { gradient: grad, momentumBuffer });
  const ls = lossScale('sgdStep', param, o, [momentumBuffer]);
  // One dispatch per binding page (see TensorRange): no page switch in the accessors.
  for (const { offset, size } of pageRanges(param.size)) {
    const r = (tensor: Tensor): TensorRange => ({ tensor, offset, size });
    runKernel({
      name: 'sgdStep',
      body: linearMain(wg, sgdStepWgsl(!!momentumBuffer, o.nesterov, ls.variant)),
      inputs: { g: r(grad), ...ls.inputs },
      outputs: momentumBuffer ? { p: r(param), buf: r(momentumBuffer) } : { p: r(param) },
      uniforms: {
        lr: ['f32', o.lr],
        wd: ['f32', o.weightDecay],
        momentum: ['f32', o.momentum],
        dampening: ['f32', o.dampening],
        first: ['u32', o.firstStep ? 1 : 0],
        n: ['u32', size],
        ...ls.uniforms,
      },
      workgroups: grid1d(size, wg),
    });
  }
}

export interface AdamStepOptions extends LossScaleStepOptions {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  /** AdamW: p ← p·(1 − lr·wd) instead of adding wd·p to the gradient. */
  decoupledWeightDecay: boolean;
  /** The step number t ≥ 1, for the bias corrections 1 − βᵗ. */
  step: number;
}

/** One torch.optim.Adam / AdamW update (amsgrad off) of `param` and its moments, in place. */
export function adamStep(param: Tensor, grad: Tensor, expAvg: Tensor, expAvgSq: Tensor, o: AdamStepOptions): void {
  const op = o.decoupledWeightDecay ? 'adamwStep' : 'adamStep';
  check(op, param, { gradient: grad, expAvg, expAvgSq });
  if (!(Number.isInteger(o.step) && o.step >= 1)) throw new Error(`${op}: step must be an integer >= 1, got ${o.step}`);
  const ls = lossScale(op, param, o, [expAvg, expAvgSq]);
  const [b1, b2] = o.betas;
  // One dispatch per binding page (see TensorRange): no page switch in the accessors.
  for (const { offset, size } of pageRanges(param.size)) {
    const r = (tensor: Tensor): TensorRange => ({ tensor, offset, size });
    const { body, invocations } = adamStepWgsl(size, o.decoupledWeightDecay, ls.variant);
    runKernel({
      name: op,
      body: linearMain(wg, body),
      inputs: { g: r(grad), ...ls.inputs },
      outputs: { p: r(param), ea: r(expAvg), eas: r(expAvgSq) },
      uniforms: {
        lr: ['f32', o.lr],
        wd: ['f32', o.weightDecay],
        b1: ['f32', b1],
        b2: ['f32', b2],
        eps: ['f32', o.eps],
        stepSize: ['f32', o.lr / (1 - b1 ** o.step)],
        bc2sqrt: ['f32', Math.sqrt(1 - b2 ** o.step)],
        n: ['u32', invocations],
        ...ls.uniforms,
      },
      workgroups: grid1d(invocations, wg),
    });
  }
}
