import type { Generator } from '@cxr/tensor';
import { withoutInit } from '@cxr/nn';
import { resnet, resnetConfigs, type ResNet, type ResNetName } from './arch/resnet.ts';
import { vgg, vggConfigs, type VGG, type VggName } from './arch/vgg.ts';
import { knownArchs } from './architectures.ts';

/**
 * Builds an architecture by torchvision's name (`vgg16`, `vgg16_bn`, `resnet18`, …) with
 * `numClasses` outputs (1000 to load ImageNet weights, then apply a head).
 */
export function createModel(arch: string, options: { numClasses?: number; generator?: Generator; initialize?: boolean } = {}): VGG | ResNet {
  // initialize: false: zeros instead of initial values, for a model whose every tensor is loaded
  // next (see withoutInit); the generator still moves on as if they had been drawn.
  const { initialize = true, ...build } = options;
  if (!initialize) return withoutInit(() => createModel(arch, build));
  const base = arch.replace(/_bn$/, '');
  if (base in vggConfigs) return vgg(base as VggName, { ...build, batchNorm: arch.endsWith('_bn') });
  if (arch in resnetConfigs) return resnet(arch as ResNetName, build);
  throw new Error(`unknown architecture '${arch}': choose one of ${knownArchs.join(', ')}`);
}
