import * as T from '@cxr/tensor';
import type { Tensor, Generator, IntPair } from '@cxr/tensor';
import { Parameter } from '../autograd/tape.ts';
import { autocastDtype } from '../autograd/autocast.ts';
import * as F from '../functional.ts';
import { kaimingUniform, uniform, fans } from '../init.ts';
import { Module } from '../module.ts';

/** Runs children in order; they are named '0', '1', ... as torch.nn.Sequential. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }
  override forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = m.forward(y);
    return y;
  }
  /** The i-th layer (negative counts from the end). */
  at<M extends Module = Module>(i: number): M {
    return this.layers[i < 0 ? i + this.layers.length : i] as M;
  }
  /** Replaces layer i (keeps its name). */
  set(i: number, m: Module): void {
    this.layers[i] = m;
    this.registerModule(String(i), m);
  }
  get length(): number {
    return this.layers.length;
  }
}

/**
 * Inside an `autocast` region: the input in the autocast dtype. The weight stays the float32
 * master (the kernels read it as it is and accumulate in f32, and its gradient is written in
 * float32 directly: no per-step copy of the weights, no cast of their gradients); a Linear's bias
 * follows the activation (`castBias`), since it is added to the float16 product.
 */
function castForAutocast(x: Tensor, bias: Tensor | null, castBias: boolean): [Tensor, Tensor | null] {
  const dtype = autocastDtype();
  if (!dtype) return [x, bias];
  return [F.cast(x, dtype), bias && castBias ? F.cast(bias, dtype) : bias];
}

export interface InitOptions {
  generator?: Generator;
}

/** y = x Wᵀ + b; PyTorch's init: W kaiming-uniform(a=√5) = U(±1/√in), b U(±1/√in). */
export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: InitOptions & { bias?: boolean } = {},
  ) {
    super();
    const g = options.generator;
    this.weight = new Parameter(kaimingUniform([outFeatures, inFeatures], { generator: g }));
    this.bias = options.bias === false ? null : new Parameter(uniform([outFeatures], 1 / Math.sqrt(inFeatures), g));
  }
  override forward(x: Tensor): Tensor {
    const [xc, b] = castForAutocast(x, this.bias, true);
    return b ? F.linear(xc, this.weight, b) : F.linear(xc, this.weight);
  }
}

export interface Conv2dOptions extends InitOptions {
  stride?: IntPair;
  padding?: IntPair;
  dilation?: IntPair;
  groups?: number;
  bias?: boolean;
}

/** 2-D convolution over NCHW with an OIHW weight; PyTorch's default init. */
export class Conv2d extends Module {
  weight: Parameter;
  bias: Parameter | null;
  readonly options: T.Conv2dOptions;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: IntPair,
    options: Conv2dOptions = {},
  ) {
    super();
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    const groups = options.groups ?? 1;
    if (inChannels % groups || outChannels % groups) throw new Error(`Conv2d: channels ${inChannels}→${outChannels} not divisible by groups ${groups}`);
    const shape = [outChannels, inChannels / groups, kh, kw];
    this.weight = new Parameter(kaimingUniform(shape, { generator: options.generator }));
    this.bias = options.bias === false ? null : new Parameter(uniform([outChannels], 1 / Math.sqrt(fans(shape).fanIn), options.generator));
    this.options = { stride: options.stride, padding: options.padding, dilation: options.dilation, groups };
  }
  override forward(x: Tensor): Tensor {
    return this.forwardFused(x);
  }

  /** relu(conv(x)) as one op with `relu` (F.conv2dRelu: the convolution's output is not kept). */
  forwardFused(x: Tensor, fuse: { relu?: boolean } = {}): Tensor {
    const [xc, b] = castForAutocast(x, this.bias, false);
    return (fuse.relu ? F.conv2dRelu : F.conv2d)(xc, this.weight, b, this.options);
  }
}

/**
 * Batch norm over channels (NCHW or NC). Buffers `running_mean`, `running_var` and
 * `num_batches_tracked` (int32 here; checkpoints' int64 is converted on load).
 */
export class BatchNorm2d extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly eps: number;
  readonly momentum: number;
  constructor(
    readonly numFeatures: number,
    options: { eps?: number; momentum?: number; affine?: boolean } = {},
  ) {
    super();
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    const affine = options.affine ?? true;
    this.weight = affine ? new Parameter(T.ones([numFeatures])) : null;
    this.bias = affine ? new Parameter(T.zeros([numFeatures])) : null;
    this.registerBuffer('running_mean', T.zeros([numFeatures]));
    this.registerBuffer('running_var', T.ones([numFeatures]));
    // 0-d, as PyTorch stores it, so checkpoints load with strict shapes.
    this.registerBuffer('num_batches_tracked', T.zeros([], 'int32'));
  }
  get runningMean(): Tensor {
    return this.getBuffer('running_mean');
  }
  get runningVar(): Tensor {
    return this.getBuffer('running_var');
  }
  get numBatchesTracked(): Tensor {
    return this.getBuffer('num_batches_tracked');
  }
  override forward(x: Tensor): Tensor {
    return this.forwardFused(x);
  }

  /**
   * relu(bn(x) + residual) (either part optional) as one op: the values of BatchNorm2d, then
   * add, then ReLU, in one pass over the activation forward and one backward.
   */
  forwardFused(x: Tensor, fuse: { residual?: Tensor | null; relu?: boolean } = {}): Tensor {
    if (x.rank < 2 || x.shape[1] !== this.numFeatures)
      throw new Error(`BatchNorm2d(${this.numFeatures}): input [${x.shape.join(',')}] has the wrong channel count`);
    return F.batchNorm(
      x,
      this.weight,
      this.bias,
      {
        runningMean: this.runningMean,
        runningVar: this.runningVar,
        training: this.training,
        momentum: this.momentum,
        eps: this.eps,
        relu: fuse.relu,
        // Counted by the statistics pass itself (training only): no increment dispatch per layer.
        numBatchesTracked: this.numBatchesTracked,
      },
      fuse.residual ?? null,
    );
  }
}

export class ReLU extends Module {
  override forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}

export class Identity extends Module {
  override forward(x: Tensor): Tensor {
    return x;
  }
}

export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return F.flatten(x, this.startDim, this.endDim);
  }
}

export class MaxPool2d extends Module {
  readonly options: T.MaxPool2dOptions;
  constructor(kernelSize: IntPair, options: { stride?: IntPair; padding?: IntPair; dilation?: IntPair; ceilMode?: boolean } = {}) {
    super();
    this.options = { kernelSize, ...options };
  }
  override forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.options);
  }
}

export class AvgPool2d extends Module {
  readonly options: T.AvgPool2dOptions;
  constructor(kernelSize: IntPair, options: { stride?: IntPair; padding?: IntPair; ceilMode?: boolean; countIncludePad?: boolean } = {}) {
    super();
    this.options = { kernelSize, ...options };
  }
  override forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.options);
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: IntPair) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** Inverted dropout in training mode, identity in eval mode. */
export class Dropout extends Module {
  constructor(
    readonly p = 0.5,
    readonly generator?: Generator,
  ) {
    super();
    if (!(p >= 0 && p < 1)) throw new Error(`Dropout: p must be in [0, 1), got ${p}`);
  }
  override forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return F.dropout(x, this.p, this.generator);
  }
}
