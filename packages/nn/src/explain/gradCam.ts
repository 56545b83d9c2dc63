import * as T from '@cxr/tensor';
import type { Tensor } from '@cxr/tensor';
import { backward, clearTape, detach, enableGrad, retainGrad, retainedGrad } from '../autograd/tape.ts';
import type { Module } from '../module.ts';

export interface GradCamOptions {
  /** Dotted name of the layer whose activation is explained (`layer4`, `features.29`). */
  layer: string;
  /** Class to explain: one for the whole batch or one per image; default each image's argmax. */
  classIndex?: number | readonly number[];
}

export interface GradCamResult {
  /** [N, H, W] maps at the input's size, each min-max normalised to [0, 1]. */
  maps: Tensor;
  /** [N, K] logits of the same forward pass. */
  logits: Tensor;
  /** [N] int32: the class each map explains. */
  classIndex: Tensor;
  /** Spatial size [h, w] of the layer's feature map: how coarse the map really is before resizing. */
  featureShape: [number, number];
}

/**
 * Grad-CAM (Selvaraju et al. 2017), batched on the GPU: the target layer's activation A is
 * captured by a forward hook, d logit[class] / dA comes from one backward pass with A as the only
 * gradient source (parameters are treated as constants, so no weight gradient is computed), each
 * channel is weighted by its spatially averaged gradient, the sum goes through a ReLU, is resized
 * bilinearly (align_corners=False) to the input and min-max normalised per image
 * ((m - min) / (max - min + 1e-7)). The model runs in eval mode; its modes and frozen flags are restored.
 */
export function gradCam(model: Module, input: Tensor, options: GradCamOptions): GradCamResult {
  if (input.rank !== 4) throw new Error(`gradCam: input must be NCHW, got [${input.shape.join(',')}]`);
  const target = model.getSubmodule(options.layer);
  const [N, , H, W] = input.shape;
  let activation: Tensor | null = null;
  const handle = target.registerForwardHook((_m, _inputs, out) => {
    if (activation) throw new Error(`gradCam: layer '${options.layer}' runs more than once per forward; choose a layer that runs once`);
    if (out.rank !== 4)
      throw new Error(`gradCam: layer '${options.layer}' gives [${out.shape.join(',')}], not a 4-d feature map; choose a convolutional layer`);
    retainGrad(out);
    activation = out;
  });
  const trainable = model.parameters().filter((p) => p.requiresGrad);
  const modes = model.namedModules().map(([, m]) => [m, m.training] as const);
  for (const p of trainable) p.requiresGrad = false;
  model.eval();
  try {
    const logits = enableGrad(() => model.forward(input));
    if (!activation) throw new Error(`gradCam: layer '${options.layer}' did not run during the forward pass`);
    const act = activation as Tensor;
    if (logits.rank !== 2 || logits.shape[0] !== N) throw new Error(`gradCam: the model gives [${logits.shape.join(',')}], expected [${N}, classes]`);
    const K = logits.shape[1];
    const featureShape: [number, number] = [act.shape[2], act.shape[3]];
    const classIndex = targetClasses(options.classIndex, logits, N, K);
    const keptAct = detach(act);
    const keptLogits = detach(logits);
    const seed = T.oneHot(classIndex, K);
    try {
      backward(logits, seed);
    } finally {
      seed.dispose();
    }
    logits.dispose(); // backward leaves its root to the caller
    const grad = retainedGrad(act);
    if (!grad) {
      keptAct.dispose();
      throw new Error(`gradCam: the class logits do not depend on layer '${options.layer}'`);
    }
    const maps = T.scope(() => {
      const weights = T.mean(grad, [2, 3], true);
      const cam = T.relu(T.sum(T.mul(keptAct, weights), [1], true));
      const up = T.interpolateBilinear(cam, [H, W]);
      const lo = T.min(up, [2, 3], true);
      const hi = T.max(up, [2, 3], true);
      return T.reshape(T.div(T.sub(up, lo), T.add(T.sub(hi, lo), 1e-7)), [N, H, W]);
    });
    grad.dispose();
    keptAct.dispose();
    return { maps, logits: keptLogits, classIndex, featureShape };
  } catch (e) {
    clearTape();
    throw e;
  } finally {
    handle.remove();
    for (const p of trainable) p.requiresGrad = true;
    for (const [m, training] of modes) m.training = training;
  }
}

function targetClasses(spec: GradCamOptions['classIndex'], logits: Tensor, N: number, K: number): Tensor {
  if (spec === undefined) return T.argmax(logits, 1);
  const list = typeof spec === 'number' ? new Array<number>(N).fill(spec) : [...spec];
  if (list.length !== N) throw new Error(`gradCam: classIndex has ${list.length} entries for a batch of ${N}`);
  const bad = list.find((c) => !Number.isInteger(c) || c < 0 || c >= K);
  if (bad !== undefined) throw new Error(`gradCam: class index ${bad} is outside 0..${K - 1}`);
  return T.tensor(new Int32Array(list), [N], 'int32');
}
