/** The conv test matrix every conv kernel family runs: odd sizes, strides, padding, dilation, groups. */
import { type Conv2dOptions, tensor } from '../../src/index.ts';
import { randomArray, sizeOf } from '../helpers.ts';
import type { RefGeom } from './conv.ts';

export interface ConvCase {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  groups?: number;
  bias?: boolean;
}

export const convCases: ConvCase[] = [
  { name: '3x3 pad 1, 13x17, 3→5, bias', x: [2, 3, 13, 17], w: [5, 3, 3, 3], padding: [1, 1], bias: true },
  { name: '3x3 stride 2 odd input pad 1, 5→7', x: [2, 5, 13, 17], w: [7, 5, 3, 3], stride: [2, 2], padding: [1, 1] },
  { name: '3x3 pad 0, 7x7', x: [3, 3, 7, 7], w: [5, 3, 3, 3] },
  { name: '7x7 stride 2 pad 3 (ResNet conv1), 17x13', x: [2, 3, 17, 13], w: [5, 3, 7, 7], stride: [2, 2], padding: [3, 3] },
  { name: '3x3 dilation 2 pad 2', x: [2, 5, 13, 17], w: [3, 5, 3, 3], dilation: [2, 2], padding: [2, 2], bias: true },
  { name: '1x1 stride 1', x: [2, 13, 7, 5], w: [11, 13, 1, 1] },
  { name: '1x1 stride 2 odd input (downsample)', x: [2, 13, 7, 9], w: [11, 13, 1, 1], stride: [2, 2] },
  { name: 'depthwise 3x3 pad 1', x: [2, 5, 13, 17], w: [5, 1, 3, 3], padding: [1, 1], groups: 5, bias: true },
  { name: 'depthwise 3x3 stride 2 pad 1', x: [2, 5, 13, 17], w: [5, 1, 3, 3], stride: [2, 2], padding: [1, 1], groups: 5 },
  { name: 'groups 2, 6→4', x: [2, 6, 7, 9], w: [4, 3, 3, 3], padding: [1, 1], groups: 2 },
  { name: 'groups 3, 9→12 (3 of 4 outputs per tile)', x: [1, 9, 7, 7], w: [12, 3, 3, 3], padding: [1, 1], groups: 3 },
  { name: 'rectangular 3x5, stride 2x1, pad 1x2, dilation 1x2', x: [2, 3, 13, 17], w: [5, 3, 3, 5], stride: [2, 1], padding: [1, 2], dilation: [1, 2] },
  { name: '5x5 stride 3 pad 0 (taps skip rows)', x: [1, 3, 13, 17], w: [7, 3, 5, 5], stride: [3, 3] },
  { name: 'odd channels 13→11, 3x3 pad 1', x: [1, 13, 5, 7], w: [11, 13, 3, 3], padding: [1, 1], bias: true },
  { name: '1x1 image', x: [3, 5, 1, 1], w: [7, 5, 1, 1], bias: true },
  { name: 'kernel larger than stride with 2x2 stride 2 (VGG-like pool shapes)', x: [1, 3, 8, 8], w: [5, 3, 2, 2], stride: [2, 2] },
  { name: 'padding 3, 3x3, 13→11, bias', x: [1, 13, 5, 7], w: [11, 13, 3, 3], padding: [3, 3], bias: true },
  { name: 'more channels than a tile: 3x3 pad 1, 37→70', x: [1, 37, 6, 5], w: [70, 37, 3, 3], padding: [1, 1], bias: true },
  // Channels a multiple of the K tile: K ordered (tap, channel), one tap per K tile.
  { name: 'tap-major K: 3x3 pad 1, 16→16', x: [2, 16, 9, 7], w: [16, 16, 3, 3], padding: [1, 1], bias: true },
  { name: 'tap-major K: 3x3 stride 2 pad 1, 16→8', x: [1, 16, 9, 7], w: [8, 16, 3, 3], stride: [2, 2], padding: [1, 1] },
  // Narrow maps (OW < 8): the direct kernels tile whole rows, consecutive over N x OH, so a tile
  // spans images and the last tile is partial.
  { name: 'narrow: OW 1, 3x3 pad 1, batch 3', x: [3, 5, 3, 1], w: [7, 5, 3, 3], padding: [1, 1], bias: true },
  { name: 'narrow: OW 2, 3x3 pad 1, 3 rows x batch 3 (tiles cross images)', x: [3, 4, 3, 2], w: [5, 4, 3, 3], padding: [1, 1] },
  { name: 'narrow: OW 2, 3x3 stride 2 pad 1 (ResNet layer4 entry)', x: [3, 6, 4, 4], w: [9, 6, 3, 3], stride: [2, 2], padding: [1, 1] },
  { name: 'narrow: OW 2, 1x1 stride 2 (downsample), odd input', x: [3, 6, 4, 3], w: [5, 6, 1, 1], stride: [2, 2] },
  { name: 'narrow: OW 3, 1x1, batch 2', x: [2, 5, 3, 3], w: [7, 5, 1, 1] },
  { name: 'narrow: OW 4, 3x3 pad 1, 5 rows x batch 3, 13 outputs', x: [3, 4, 5, 4], w: [13, 4, 3, 3], padding: [1, 1], bias: true },
  { name: 'narrow: OW 7, 3x3 stride 2 pad 1, 13x13', x: [2, 3, 13, 13], w: [5, 3, 3, 3], stride: [2, 2], padding: [1, 1] },
  { name: 'narrow: 2x2 maps, 16→16, batch 4 (ResNet layer4)', x: [4, 16, 2, 2], w: [16, 16, 3, 3], padding: [1, 1], bias: true },
  { name: 'narrow: depthwise 3x3 pad 1 on 3x3, batch 2', x: [2, 4, 3, 3], w: [4, 1, 3, 3], padding: [1, 1], groups: 4 },
];

export function convOptions(c: ConvCase): Conv2dOptions {
  return { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
}

/**
 * A case's random operands: float32 arrays for the float64 references and the same values as
 * tensors. `nextSeed` is called once per array, so a file's cases keep distinct inputs.
 */
export function convOperands(c: ConvCase, g: RefGeom, nextSeed: () => number) {
  const xa = randomArray(sizeOf(c.x), nextSeed());
  const wa = randomArray(sizeOf(c.w), nextSeed());
  const ba = c.bias ? randomArray(c.w[0], nextSeed()) : null;
  const dya = randomArray(g.N * g.O * g.OH * g.OW, nextSeed());
  const dyShape = [g.N, g.O, g.OH, g.OW];
  return { xa, wa, ba, dya, x: tensor(xa, c.x), w: tensor(wa, c.w), b: ba ? tensor(ba, [c.w[0]]) : null, dy: tensor(dya, dyShape) };
}
