import * as T from '@cxr/tensor';
import type { Generator } from '@cxr/tensor';
import { BatchNorm2d, Conv2d, Linear, initSkipped, kaimingNormal, normal, skipDraw, type Module } from '@cxr/nn';

/** Overwrites a parameter's values in place (optimizers and the tape hold the parameter itself). */
function assign(dst: T.Tensor, src: T.Tensor): void {
  T.copyInto(dst, src);
  src.dispose();
}

/**
 * torchvision's initialisation: convs kaiming-normal (fan_out, relu) with zero bias, batch norm
 * weight 1 and bias 0, and for VGG the linears N(0, 0.01) with zero bias (ResNet keeps the
 * default Linear init for `fc`).
 */
export function torchvisionInit(model: Module, options: { linearStd?: number; generator?: Generator } = {}): void {
  const g = options.generator;
  // Inside withoutInit (every tensor is loaded next) only the generator moves, by the draws made here.
  if (initSkipped()) {
    for (const [, m] of model.namedModules()) if (m instanceof Conv2d || (m instanceof Linear && options.linearStd !== undefined)) skipDraw(g);
    return;
  }
  for (const [, m] of model.namedModules()) {
    if (m instanceof Conv2d) {
      assign(m.weight, kaimingNormal([...m.weight.shape], { mode: 'fan_out', nonlinearity: 'relu', generator: g }));
      if (m.bias) assign(m.bias, T.zeros(m.bias.shape));
    } else if (m instanceof BatchNorm2d) {
      if (m.weight) assign(m.weight, T.ones(m.weight.shape));
      if (m.bias) assign(m.bias, T.zeros(m.bias.shape));
    } else if (m instanceof Linear && options.linearStd !== undefined) {
      assign(m.weight, normal([...m.weight.shape], options.linearStd, g));
      if (m.bias) assign(m.bias, T.zeros(m.bias.shape));
    }
  }
}
