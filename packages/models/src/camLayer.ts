import { type Module, ReLU } from '@cxr/nn';
import { ResNet } from './arch/resnet.ts';
import { VGG } from './arch/vgg.ts';

/**
 * The layer Grad-CAM explains by default: the last feature map before pooling, as the Grad-CAM
 * paper and pytorch-grad-cam do. ResNet: `layer4`; VGG: the last ReLU of `features` (`features.29`
 * for VGG16, `features.42` for VGG16-BN), i.e. the rectified last conv block, before its max-pool.
 */
export function defaultCamLayer(model: Module): string {
  if (model instanceof ResNet) return 'layer4';
  if (model instanceof VGG) {
    const relus = model.features.namedChildren().filter(([, m]) => m instanceof ReLU);
    if (relus.length) return `features.${relus[relus.length - 1][0]}`;
  }
  throw new Error(`defaultCamLayer: no default Grad-CAM layer for ${model.constructor.name}; pass a layer name (e.g. --layer layer4)`);
}
