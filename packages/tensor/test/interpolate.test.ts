import { describe, expect, it } from 'vitest';
import { interpolateBilinear, tensor } from '../src/index.ts';
import { randomArray, relErr, useDevice } from './helpers.ts';

useDevice();

/** float64 reference: PyTorch's align_corners=False rule as a separable weight matrix per axis. */
function axisWeights(inSize: number, outSize: number): number[][] {
  const w = Array.from({ length: outSize }, () => new Array<number>(inSize).fill(0));
  for (let o = 0; o < outSize; o++) {
    const s = Math.max(((o + 0.5) * inSize) / outSize - 0.5, 0);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const l = s - i0;
    w[o][i0] += 1 - l;
    w[o][i1] += l;
  }
  return w;
}

function refBilinear(x: Float32Array, planes: number, H: number, W: number, OH: number, OW: number): Float64Array {
  const wy = axisWeights(H, OH);
  const wx = axisWeights(W, OW);
  const out = new Float64Array(planes * OH * OW);
  for (let p = 0; p < planes; p++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        let acc = 0;
        for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) acc += wy[oy][y] * wx[ox][xx] * x[p * H * W + y * W + xx];
        out[p * OH * OW + oy * OW + ox] = acc;
      }
    }
  }
  return out;
}

describe('interpolateBilinear', () => {
  const cases: [number[], [number, number]][] = [
    [
      [2, 3, 7, 7],
      [224, 224],
    ], // Grad-CAM: ResNet layer4 / VGG features to the input
    [
      [1, 2, 5, 9],
      [13, 17],
    ], // odd, non-square upsampling
    [
      [3, 11, 6],
      [4, 5],
    ], // downsampling, rank 3
    [
      [1, 1, 1, 1],
      [3, 2],
    ],
  ];
  for (const [shape, size] of cases) {
    it(`[${shape}] -> ${size.join('x')} matches a float64 reference`, async () => {
      const n = shape.reduce((a, b) => a * b);
      const xs = randomArray(n, n + size[0], -2, 2);
      const x = tensor(xs, shape);
      const y = interpolateBilinear(x, size);
      const H = shape.at(-2)!;
      const W = shape.at(-1)!;
      expect(y.shape).toEqual([...shape.slice(0, -2), ...size]);
      expect(relErr(await y.toArray(), refBilinear(xs, n / (H * W), H, W, size[0], size[1]))).toBeLessThan(1e-6);
      x.dispose();
      y.dispose();
    });
  }
  it('rejects bad input naming the op', () => {
    const x = tensor(randomArray(4, 1), [4]);
    expect(() => interpolateBilinear(x, [2, 2])).toThrow(/interpolateBilinear: input must have at least 2/);
    const y = tensor(randomArray(4, 1), [2, 2]);
    expect(() => interpolateBilinear(y, [0, 2])).toThrow(/interpolateBilinear: size/);
  });
});
