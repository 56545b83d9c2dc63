import type { Generator, Tensor } from '@cxr/tensor';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, F, Flatten, Linear, MaxPool2d, Module, Sequential } from '@cxr/nn';
import { torchvisionInit } from './init.ts';

const conv3x3 = (inC: number, outC: number, stride: number, g?: Generator) => new Conv2d(inC, outC, 3, { stride, padding: 1, bias: false, generator: g });
const conv1x1 = (inC: number, outC: number, stride: number, g?: Generator) => new Conv2d(inC, outC, 1, { stride, bias: false, generator: g });

/**
 * relu(bn(x) + residual) as one fused pass; but when the batch norm carries a forward hook
 * (Grad-CAM's, installed on the instance) its own forward runs and the residual and ReLU follow
 * as separate ops, so the hook sees the batch norm's output as in torchvision (the fused pass
 * never calls forward: the hook would not fire and Grad-CAM said the layer "did not run").
 */
function bnAct(bn: BatchNorm2d, x: Tensor, fuse: { residual?: Tensor; relu: true }): Tensor {
  if (bn.forward === BatchNorm2d.prototype.forward) return bn.forwardFused(x, fuse);
  const y = bn.forward(x);
  return F.relu(fuse.residual ? F.add(y, fuse.residual) : y);
}

interface Block extends Module {
  forward(x: Tensor): Tensor;
}

/** torchvision's BasicBlock (ResNet-18/34): two 3x3 convs and an identity or 1x1 shortcut. */
export class BasicBlock extends Module implements Block {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inC: number, planes: number, stride: number, downsample: Sequential | null, g?: Generator) {
    super();
    this.conv1 = conv3x3(inC, planes, stride, g);
    this.bn1 = new BatchNorm2d(planes);
    this.conv2 = conv3x3(planes, planes, 1, g);
    this.bn2 = new BatchNorm2d(planes);
    this.downsample = this.registerModule('downsample', downsample);
  }

  override forward(x: Tensor): Tensor {
    // relu(bn1(·)) and relu(bn2(·) + identity) each run as one fused batch-norm pass.
    const out = bnAct(this.bn1, this.conv1.forward(x), { relu: true });
    const identity = this.downsample ? this.downsample.forward(x) : x;
    return bnAct(this.bn2, this.conv2.forward(out), { residual: identity, relu: true });
  }
}

/** torchvision's Bottleneck (ResNet-50+): 1x1 reduce, 3x3 (with the stride), 1x1 expand x4. */
export class Bottleneck extends Module implements Block {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inC: number, planes: number, stride: number, downsample: Sequential | null, g?: Generator) {
    super();
    this.conv1 = conv1x1(inC, planes, 1, g);
    this.bn1 = new BatchNorm2d(planes);
    this.conv2 = conv3x3(planes, planes, stride, g);
    this.bn2 = new BatchNorm2d(planes);
    this.conv3 = conv1x1(planes, planes * 4, 1, g);
    this.bn3 = new BatchNorm2d(planes * 4);
    this.downsample = this.registerModule('downsample', downsample);
  }

  override forward(x: Tensor): Tensor {
    let out = bnAct(this.bn1, this.conv1.forward(x), { relu: true });
    out = bnAct(this.bn2, this.conv2.forward(out), { relu: true });
    const identity = this.downsample ? this.downsample.forward(x) : x;
    return bnAct(this.bn3, this.conv3.forward(out), { residual: identity, relu: true });
  }
}

type BlockClass = typeof BasicBlock | typeof Bottleneck;

export const resnetConfigs = {
  resnet18: { block: BasicBlock, layers: [2, 2, 2, 2] },
  resnet34: { block: BasicBlock, layers: [3, 4, 6, 3] },
  resnet50: { block: Bottleneck, layers: [3, 4, 6, 3] },
} as const satisfies Record<string, { block: BlockClass; layers: readonly number[] }>;

export type ResNetName = keyof typeof resnetConfigs;

export interface ResNetOptions {
  numClasses?: number;
  generator?: Generator;
}

/** ResNet as torchvision builds it (`conv1`, `bn1`, `layer1..4.N.*`, `fc`). */
export class ResNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly maxpool: MaxPool2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;
  readonly avgpool: AdaptiveAvgPool2d;
  fc: Module;
  private readonly flatten = new Flatten(1);

  constructor(block: BlockClass, layers: readonly number[], options: ResNetOptions = {}) {
    super();
    const g = options.generator;
    let inC = 64;
    const makeLayer = (planes: number, blocks: number, stride: number): Sequential => {
      let downsample: Sequential | null = null;
      if (stride !== 1 || inC !== planes * block.expansion) {
        downsample = new Sequential(conv1x1(inC, planes * block.expansion, stride, g), new BatchNorm2d(planes * block.expansion));
      }
      const list: Module[] = [new block(inC, planes, stride, downsample, g)];
      inC = planes * block.expansion;
      for (let i = 1; i < blocks; i++) list.push(new block(inC, planes, 1, null, g));
      return new Sequential(...list);
    };
    this.conv1 = new Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false, generator: g });
    this.bn1 = new BatchNorm2d(64);
    this.maxpool = new MaxPool2d(3, { stride: 2, padding: 1 });
    this.layer1 = makeLayer(64, layers[0], 1);
    this.layer2 = makeLayer(128, layers[1], 2);
    this.layer3 = makeLayer(256, layers[2], 2);
    this.layer4 = makeLayer(512, layers[3], 2);
    this.avgpool = new AdaptiveAvgPool2d([1, 1]);
    this.fc = new Linear(512 * block.expansion, options.numClasses ?? 1000, { generator: g });
    torchvisionInit(this, { generator: g });
  }

  override forward(x: Tensor): Tensor {
    let y = this.maxpool.forward(bnAct(this.bn1, this.conv1.forward(x), { relu: true }));
    y = this.layer4.forward(this.layer3.forward(this.layer2.forward(this.layer1.forward(y))));
    return this.fc.forward(this.flatten.forward(this.avgpool.forward(y)));
  }
}

export function resnet(name: ResNetName, options: ResNetOptions = {}): ResNet {
  const c = resnetConfigs[name];
  return new ResNet(c.block, c.layers, options);
}
