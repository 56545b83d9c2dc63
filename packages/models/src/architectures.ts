import { resnetConfigs } from './arch/resnet.ts';
import { vggConfigs } from './arch/vgg.ts';

/** What option validation needs to know about an architecture without building it. */
export interface ArchInfo {
  family: 'vgg' | 'resnet';
  /** Smallest input side: every listed network downsamples by 32 before its pooling. */
  minImageSize: number;
  /** VGG only: torchvision `features.N` indices of the convolutions. */
  convIndices?: readonly number[];
}

/** Index of each conv inside `features` (conv + ReLU take two slots, a pool one; BN one more). */
function vggConvIndices(config: readonly (number | 'M')[], batchNorm: boolean): number[] {
  const indices: number[] = [];
  let slot = 0;
  for (const layer of config) {
    if (layer === 'M') slot += 1;
    else {
      indices.push(slot);
      slot += batchNorm ? 3 : 2;
    }
  }
  return indices;
}

export const architectures: Readonly<Record<string, ArchInfo>> = {
  ...Object.fromEntries(
    Object.entries(vggConfigs).flatMap(([name, cfg]) => [
      [name, { family: 'vgg', minImageSize: 32, convIndices: vggConvIndices(cfg, false) }],
      [`${name}_bn`, { family: 'vgg', minImageSize: 32, convIndices: vggConvIndices(cfg, true) }],
    ]),
  ),
  ...Object.fromEntries(Object.keys(resnetConfigs).map((name) => [name, { family: 'resnet', minImageSize: 32 }])),
};

export const knownArchs: readonly string[] = Object.keys(architectures);
