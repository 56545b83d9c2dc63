import { linearMain } from '../../kernel/run.ts';

/**
 * The small-problem matmul: one invocation per output, a plain loop over K, every size and
 * stride a uniform. One pipeline serves every small product whatever its shape or transposes
 * (a classifier head [B,512] x [512,2] and its two gradients, at every batch size), and it
 * compiles in milliseconds where the tiled kernels take a large fraction of a second on lavapipe
 * for a few thousand multiply-adds. Element (m, k) of A is at m·aM + k·aK, (k, n) of B at
 * k·bK + n·bN, so a transpose is only a swap of two strides.
 */
export const smallWorkgroup = 64;

export const smallWgsl = (): string =>
  linearMain(
    smallWorkgroup,
    `  if (i >= u.M * u.N) { return; }
  let m = i / u.N;
  let n = i - m * u.N;
  var ia = m * u.aM;
  var ib = n * u.bN;
  var acc = 0.0;
  for (var k = 0u; k < u.K; k++) {
    acc = fma(a_get(ia), b_get(ib), acc);
    ia += u.aK;
    ib += u.bK;
  }
  out_set(i, acc);`,
  );
