/**
 * The implicit-GEMM (GPU-path) conv kernels compiled on Dawn's null backend (validates and
 * compiles every shader, runs nothing): network-sized shapes (VGG, ResNet-18 incl. conv1 and the
 * strided downsamples), default and alternative tiles, small pages.
 */
import { describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { useDevice } from './helpers.ts';

useDevice({ flags: ['backend=null'], maxBindingBytes: 8 << 20 });

describe('GPU-path conv kernels compile (backend=null)', () => {
  it('forward, input gradient, split-K weight gradient', async () => {
    const shapes: [number[], number[], T.Conv2dOptions][] = [
      [[1, 3, 224, 224], [64, 3, 3, 3], { padding: 1 }], // VGG conv1_1
      [[1, 3, 224, 224], [64, 3, 7, 7], { stride: 2, padding: 3 }], // ResNet conv1
      [[1, 64, 56, 56], [64, 64, 3, 3], { padding: 1 }],
      [[1, 64, 56, 56], [128, 64, 3, 3], { stride: 2, padding: 1 }],
      [[1, 64, 56, 56], [128, 64, 1, 1], { stride: 2 }],
      [[2, 32, 15, 13], [48, 16, 3, 3], { padding: 2, dilation: 2, groups: 2 }],
      [[2, 16, 9, 9], [16, 1, 3, 3], { padding: 1, groups: 16 }], // depthwise: direct kernels
      [[4, 512, 7, 7], [512, 512, 3, 3], { padding: 1 }], // ResNet layer4: forward/input split-K
      [[4, 256, 14, 14], [512, 256, 3, 3], { stride: 2, padding: 1 }],
    ];
    const configs: Partial<T.ConvTiles>[] = [
      {},
      { gemm: { tm: 8, tn: 4, wgM: 16, wgN: 16, tk: 8 }, wGemm: { tm: 4, tn: 8, wgM: 16, wgN: 8, tk: 16 } },
      { gemm: { tm: 3, tn: 2, wgM: 7, wgN: 3, tk: 5 }, wGemm: { tm: 2, tn: 3, wgM: 3, wgN: 7, tk: 5 }, wSplit: 1 },
      // The autotuner's blocked (vec4 workgroup reads) candidates, split and unsplit.
      { gemm: { tm: 8, tn: 8, wgM: 16, wgN: 16, tk: 8, layout: 'blocked' }, wGemm: { tm: 8, tn: 8, wgM: 16, wgN: 16, tk: 8, layout: 'blocked' } },
      { gemm: { tm: 4, tn: 8, wgM: 16, wgN: 16, tk: 16, layout: 'blocked' }, gemmSplitTarget: 0 },
      {
        gemm: { tm: 8, tn: 8, wgM: 16, wgN: 16, tk: 8, layout: 'blocked', prefetch: true },
        wGemm: { tm: 8, tn: 8, wgM: 16, wgN: 16, tk: 8, layout: 'blocked', prefetch: true },
      },
      { gemm: { tm: 4, tn: 4, wgM: 16, wgN: 16, tk: 16, prefetch: true }, gemmSplitTarget: 0 },
    ];
    try {
      for (const cfg of configs) {
        T.resetConvTiles();
        T.setConvTiles({ path: 'implicitGemm', ...cfg });
        for (const [xs, ws, o] of shapes) {
          const g = T.convGeometry('t', xs, ws, o);
          const x = T.zeros(xs);
          const w = T.zeros(ws);
          const dy = T.zeros([g.N, g.O, g.OH, g.OW]);
          T.scope(() => {
            T.conv2d(x, w, T.zeros([g.O]), o);
            T.conv2dBackwardInput(dy, w, xs, o);
            T.conv2dBackwardWeight(dy, x, ws, o);
          });
          x.dispose();
          w.dispose();
          dy.dispose();
        }
        await expect(T.sync()).resolves.toBeUndefined();
      }
    } finally {
      T.resetConvTiles();
    }
  });
});
