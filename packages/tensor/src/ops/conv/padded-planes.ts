import { bytesPerElement, type DType } from '../../dtype.ts';
import { grid1d, linearMain, runKernel } from '../../kernel/run.ts';
import { Tensor } from '../../tensor.ts';

/** Values added after each plane by `padPlanes`: one 64-byte cache line of float32. */
export const planePad = 16;

/**
 * Whether planes of `elements` values start a multiple of 4 KB apart. A kernel whose lanes stream
 * many planes at the same offset (the row-tap weight gradient: 16 source and 32 dy planes) then
 * hits one set of the L1 cache, which has 8 ways: VGG's 64->64 weight gradient ran at 58 GFLOP
 * per 2 CPU-s on 224-px maps (200,704-byte planes) against 81-82 on 220 and 228.
 */
export function planesAlias(elements: number, dtype: DType): boolean {
  return (elements * bytesPerElement[dtype]) % 4096 === 0;
}

/**
 * A copy of `t` seen as `planes` planes of `elements` values (a multiple of 4), each followed by
 * `planePad` values that nothing reads, as a flat tensor: the plane stride becomes
 * elements + planePad.
 */
export function padPlanes(t: Tensor, planes: number, elements: number, op: string): Tensor {
  const out = Tensor.empty([planes * (elements + planePad)], t.dtype, op);
  const n = (planes * elements) / 4;
  runKernel({
    name: `${op}.padPlanes`,
    body: linearMain(64, `  if (i >= u.n) { return; }\n  out_set4(i + (i / u.q) * u.pad4, src_get4(i));`),
    inputs: { src: t },
    outputs: { out },
    uniforms: { n: ['u32', n], q: ['u32', elements / 4], pad4: ['u32', planePad / 4] },
    workgroups: grid1d(n, 64),
  });
  return out;
}
