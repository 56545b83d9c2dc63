import type { Generator } from '@cxr/tensor';
import { resnet, resnetConfigs, type ResNet, type ResNetName } from './arch/resnet.ts';
import { vgg, vggConfigs, type VGG, type VggName } from './arch/vgg.ts';
import { knownArchs } from './architectures.ts';

/**
 * Builds an architecture by torchvision's name (`vgg16`, `vgg16_bn`, `resnet18`, …) with
 * `numClasses` outputs (1000 to load ImageNet weights, then apply a head).
 */
export function createModel(arch: string, options: { numClasses?: number; generator?: Generator } = {}): VGG | ResNet {
  const base = arch.replace(/_bn$/, '');
  if (base in vggConfigs) return vgg(base as VggName, { ...options, batchNorm: arch.endsWith('_bn') });
  if (arch in resnetConfigs) return resnet(arch as ResNetName, options);
  throw new Error(`unknown architecture '${arch}': choose one of ${knownArchs.join(', ')}`);
}
