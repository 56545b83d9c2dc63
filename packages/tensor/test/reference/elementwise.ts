/** Float64 references for elementwise ops, with NumPy broadcasting. */
import { stridesOf, unravel, sizeOf } from '../helpers.ts';

export function broadcastShape(...shapes: number[][]): number[] {
  const r = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(r).fill(1);
  for (const s of shapes)
    s.forEach((d, i) => {
      const o = r - s.length + i;
      if (d !== 1) out[o] = d;
    });
  return out;
}

/** Value of operand `x` (shape `s`) at output coordinates `c` under broadcasting. */
function at(x: ArrayLike<number>, s: number[], c: number[]): number {
  const st = stridesOf(s);
  let idx = 0;
  for (let d = 0; d < s.length; d++) {
    const o = c.length - s.length + d;
    idx += (s[d] === 1 ? 0 : c[o]) * st[d];
  }
  return x[idx];
}

export function mapN(shapes: number[][], xs: ArrayLike<number>[], f: (...v: number[]) => number): { shape: number[]; data: Float64Array } {
  const shape = broadcastShape(...shapes);
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = unravel(i, shape);
    data[i] = f(...xs.map((x, k) => at(x, shapes[k], c)));
  }
  return { shape, data };
}

export const unaryRef: Record<string, (x: number) => number> = {
  neg: (x) => -x,
  abs: Math.abs,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  relu: (x) => Math.max(x, 0),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  square: (x) => x * x,
  softplus: (x) => Math.log1p(Math.exp(x)),
  reciprocal: (x) => 1 / x,
  sign: Math.sign,
  floor: Math.floor,
  ceil: Math.ceil,
};

export const binaryRef: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  maximum: Math.max,
  minimum: Math.min,
  eq: (a, b) => +(a === b),
  ne: (a, b) => +(a !== b),
  lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b),
  gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b),
};
