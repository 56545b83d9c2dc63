import type { Generator, Tensor } from '@cxr/tensor';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential } from '@cxr/nn';
import { torchvisionInit } from './init.ts';

/** torchvision's VGG configurations: channel counts, 'M' for a 2x2 max-pool. */
export const vggConfigs = {
  vgg11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  vgg19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
} as const satisfies Record<string, readonly (number | 'M')[]>;

export type VggName = keyof typeof vggConfigs;

export interface VggOptions {
  numClasses?: number;
  batchNorm?: boolean;
  dropout?: number;
  generator?: Generator;
}

/**
 * VGG as torchvision builds it, so its state_dict keys (`features.N.weight`,
 * `classifier.{0,3,6}.*`) load unchanged.
 */
export class VGG extends Module {
  readonly features: Sequential;
  readonly avgpool: AdaptiveAvgPool2d;
  classifier: Module;
  private readonly flatten = new Flatten(1);

  constructor(config: readonly (number | 'M')[], options: VggOptions = {}) {
    super();
    const g = options.generator;
    const layers: Module[] = [];
    let inC = 3;
    for (const v of config) {
      if (v === 'M') {
        layers.push(new MaxPool2d(2, { stride: 2 }));
        continue;
      }
      layers.push(new Conv2d(inC, v, 3, { padding: 1, generator: g }));
      if (options.batchNorm) layers.push(new BatchNorm2d(v));
      layers.push(new ReLU());
      inC = v;
    }
    this.features = new Sequential(...layers);
    this.avgpool = new AdaptiveAvgPool2d([7, 7]);
    const p = options.dropout ?? 0.5;
    this.classifier = new Sequential(
      new Linear(512 * 7 * 7, 4096, { generator: g }),
      new ReLU(),
      new Dropout(p, g),
      new Linear(4096, 4096, { generator: g }),
      new ReLU(),
      new Dropout(p, g),
      new Linear(4096, options.numClasses ?? 1000, { generator: g }),
    );
    torchvisionInit(this, { linearStd: 0.01, generator: g });
  }

  override forward(x: Tensor): Tensor {
    const features = plain(this.features, Sequential) ? fusedFeatures(this.features.layers, x) : this.features.forward(x);
    return this.classifier.forward(this.flatten.forward(this.avgpool.forward(features)));
  }
}

/**
 * `m` is a `type` whose forward is that class's own: no forward hook (Grad-CAM's, installed on the
 * instance) and no subclass's override, so a fused op computes exactly what it would.
 */
const plain = (m: Module | undefined, type: abstract new (...args: never[]) => Module): boolean => m instanceof type && m.forward === type.prototype.forward;

/**
 * `features` with each conv + ReLU (conv + batch norm + ReLU) as one op, as torchvision's
 * `ReLU(inplace=True)` keeps one activation per pair instead of two.
 */
function fusedFeatures(layers: readonly Module[], x: Tensor): Tensor {
  let y = x;
  for (let i = 0; i < layers.length; i++) {
    const [m, next, after] = [layers[i]!, layers[i + 1], layers[i + 2]];
    if (plain(m, Conv2d) && plain(next, ReLU)) {
      y = (m as Conv2d).forwardFused(y, { relu: true });
      i += 1;
    } else if (plain(m, Conv2d) && plain(next, BatchNorm2d) && plain(after, ReLU)) {
      y = (next as BatchNorm2d).forwardFused(m.forward(y), { relu: true });
      i += 2;
    } else y = m.forward(y);
  }
  return y;
}

export function vgg(name: VggName, options: VggOptions = {}): VGG {
  return new VGG(vggConfigs[name], options);
}
