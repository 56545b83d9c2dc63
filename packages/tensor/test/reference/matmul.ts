/** float64 reference for matmul with NumPy batch broadcasting and optional transposes. */
export function matmulRef(
  a: ArrayLike<number>,
  aShape: readonly number[],
  b: ArrayLike<number>,
  bShape: readonly number[],
  transA = false,
  transB = false,
): { data: Float64Array; shape: number[] } {
  const [ar, ac] = aShape.slice(-2);
  const [br, bc] = bShape.slice(-2);
  const M = transA ? ac : ar;
  const K = transA ? ar : ac;
  const N = transB ? br : bc;
  const aB = aShape.slice(0, -2);
  const bB = bShape.slice(0, -2);
  const rank = Math.max(aB.length, bB.length);
  const pad = (s: readonly number[]) => [...new Array(rank - s.length).fill(1), ...s];
  const pa = pad(aB);
  const pb = pad(bB);
  const outB = pa.map((d, i) => Math.max(d, pb[i]));
  const batches = outB.reduce((p, d) => p * d, 1);
  const out = new Float64Array(batches * M * N);
  for (let bi = 0; bi < batches; bi++) {
    let r = bi;
    let ao = 0;
    let bo = 0;
    let aStride = M * K;
    let bStride = K * N;
    for (let d = rank - 1; d >= 0; d--) {
      const c = r % outB[d];
      r = Math.floor(r / outB[d]);
      if (pa[d] !== 1) ao += c * aStride;
      if (pb[d] !== 1) bo += c * bStride;
      aStride *= pa[d];
      bStride *= pb[d];
    }
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a[ao + (transA ? k * M + m : m * K + k)];
          const bv = b[bo + (transB ? n * K + k : k * N + n)];
          s += av * bv;
        }
        out[bi * M * N + m * N + n] = s;
      }
    }
  }
  return { data: out, shape: [...outB, M, N] };
}
