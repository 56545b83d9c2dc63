/** Float64 references for reductions and softmax. */
import { sizeOf, unravel } from '../helpers.ts';

export function reduceRef(
  x: ArrayLike<number>,
  shape: number[],
  axes: number[],
  init: number,
  f: (acc: number, v: number) => number,
): { shape: number[]; data: Float64Array } {
  const outShape = shape.filter((_, d) => !axes.includes(d));
  const out = new Float64Array(sizeOf(outShape)).fill(init);
  for (let i = 0; i < x.length; i++) {
    const c = unravel(i, shape).filter((_, d) => !axes.includes(d));
    let o = 0;
    for (let d = 0; d < c.length; d++) o = o * outShape[d] + c[d];
    out[o] = f(out[o], x[i]);
  }
  return { shape: outShape, data: out };
}

export function argRef(x: ArrayLike<number>, shape: number[], axis: number, better: (a: number, b: number) => boolean): Float64Array {
  const outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const len = shape[axis];
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let e = 0; e < inner; e++) {
      let best = 0;
      for (let j = 1; j < len; j++) if (better(x[(o * len + j) * inner + e], x[(o * len + best) * inner + e])) best = j;
      out[o * inner + e] = best;
    }
  return out;
}

export function softmaxRef(x: ArrayLike<number>, shape: number[], axis: number, log: boolean): Float64Array {
  const outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const len = shape[axis];
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const out = new Float64Array(x.length);
  for (let o = 0; o < outer; o++)
    for (let e = 0; e < inner; e++) {
      const idx = (j: number) => (o * len + j) * inner + e;
      let m = -Infinity;
      for (let j = 0; j < len; j++) m = Math.max(m, x[idx(j)]);
      let s = 0;
      for (let j = 0; j < len; j++) s += Math.exp(x[idx(j)] - m);
      for (let j = 0; j < len; j++) out[idx(j)] = log ? x[idx(j)] - m - Math.log(s) : Math.exp(x[idx(j)] - m) / s;
    }
  return out;
}
