/**
 * Architectures the CLI accepts, with what option validation needs to know about them. The
 * smallest input is 32 px because every listed network downsamples by 32 before its pooling.
 * Parameter names follow torchvision, since ImageNet weights come from torchvision files.
 */

export interface ArchInfo {
  family: 'vgg' | 'resnet';
  /** Smallest --image-size that leaves at least a 1x1 feature map. */
  minImageSize: number;
  /** VGG only: torchvision `features.N` indices of the convolutions. */
  convIndices?: readonly number[];
}

/** torchvision VGG layer configs: channel counts, 'M' = max-pool. */
const vggConfigs: Record<string, readonly (number | 'M')[]> = {
  vgg11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  vgg19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
};

/** Index of each conv inside `features` (conv + ReLU take two slots, a pool one), as torchvision builds it. */
function vggConvIndices(config: readonly (number | 'M')[]): number[] {
  const indices: number[] = [];
  let slot = 0;
  for (const layer of config) {
    if (layer === 'M') slot += 1;
    else {
      indices.push(slot);
      slot += 2;
    }
  }
  return indices;
}

export const architectures: Readonly<Record<string, ArchInfo>> = {
  ...Object.fromEntries(Object.entries(vggConfigs).map(([name, cfg]) => [name, { family: 'vgg', minImageSize: 32, convIndices: vggConvIndices(cfg) }])),
  resnet18: { family: 'resnet', minImageSize: 32 },
  resnet34: { family: 'resnet', minImageSize: 32 },
  resnet50: { family: 'resnet', minImageSize: 32 },
};

export const knownArchs: readonly string[] = Object.keys(architectures);
