/** Float64 references for the backward helpers. Rows are `len` elements `inner` apart. */
export function layoutOf(shape: number[], axis: number) {
  const a = axis < 0 ? axis + shape.length : axis;
  const len = shape[a];
  const inner = shape.slice(a + 1).reduce((p, d) => p * d, 1);
  const outer = shape.slice(0, a).reduce((p, d) => p * d, 1);
  return { a, len, inner, outer };
}

export function refSoftmax(x: ArrayLike<number>, shape: number[], axis: number, log: boolean): Float64Array {
  const { len, inner, outer } = layoutOf(shape, axis);
  const y = new Float64Array(x.length);
  for (let o = 0; o < outer; o++)
    for (let n = 0; n < inner; n++) {
      const at = (j: number) => o * len * inner + j * inner + n;
      let m = -Infinity;
      for (let j = 0; j < len; j++) m = Math.max(m, x[at(j)]);
      let s = 0;
      for (let j = 0; j < len; j++) s += Math.exp(x[at(j)] - m);
      for (let j = 0; j < len; j++) y[at(j)] = log ? x[at(j)] - m - Math.log(s) : Math.exp(x[at(j)] - m) / s;
    }
  return y;
}

/** Jacobian-vector product of softmax / logSoftmax, from the definition ∂y_j/∂x_k. */
export function refSoftmaxBackward(dy: ArrayLike<number>, x: ArrayLike<number>, shape: number[], axis: number, log: boolean): Float64Array {
  const { len, inner, outer } = layoutOf(shape, axis);
  const p = refSoftmax(x, shape, axis, false);
  const dx = new Float64Array(x.length);
  for (let o = 0; o < outer; o++)
    for (let n = 0; n < inner; n++) {
      const at = (j: number) => o * len * inner + j * inner + n;
      for (let k = 0; k < len; k++) {
        let s = 0;
        for (let j = 0; j < len; j++) {
          const d = j === k ? 1 : 0;
          const jac = log ? d - p[at(k)] : p[at(j)] * (d - p[at(k)]);
          s += dy[at(j)] * jac;
        }
        dx[at(k)] = s;
      }
    }
  return dx;
}

export function refSumToShape(g: ArrayLike<number>, gShape: number[], shape: number[]): Float64Array {
  const out = new Float64Array(shape.reduce((p, d) => p * d, 1));
  const lead = gShape.length - shape.length;
  const c = new Array<number>(gShape.length).fill(0);
  for (let i = 0; i < g.length; i++) {
    let r = i;
    for (let d = gShape.length - 1; d >= 0; d--) {
      c[d] = r % gShape[d];
      r = Math.floor(r / gShape[d]);
    }
    let o = 0;
    for (let d = 0; d < shape.length; d++) o = o * shape[d] + (shape[d] === 1 ? 0 : c[lead + d]);
    out[o] += g[i];
  }
  return out;
}

export function refIndexSelectBackward(dy: ArrayLike<number>, inputShape: number[], axis: number, index: ArrayLike<number>): Float64Array {
  const { len, inner, outer } = layoutOf(inputShape, axis);
  const K = index.length;
  const dx = new Float64Array(outer * len * inner);
  for (let o = 0; o < outer; o++)
    for (let k = 0; k < K; k++)
      for (let n = 0; n < inner; n++) {
        dx[o * len * inner + index[k] * inner + n] += dy[o * K * inner + k * inner + n];
      }
  return dx;
}

export function refMatmul(a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) c[i * N + j] += a[i * K + k] * b[k * N + j];
  return c;
}

export function refTranspose(a: ArrayLike<number>, R: number, C: number): Float64Array {
  const t = new Float64Array(R * C);
  for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) t[j * R + i] = a[i * C + j];
  return t;
}
