import { expect } from 'vitest';
import { noGrad, Parameter } from '../src/index.ts';
import { scope, tensor, type Tensor } from '@cxr/tensor';
import { randomArray, relErr } from '../../tensor/test/helpers.ts';

export interface Input {
  data: Float32Array;
  shape: number[];
  grad?: boolean;
}

export function input(shape: number[], seed: number, lo = -1, hi = 1, grad = true): Input {
  return {
    data: randomArray(
      shape.reduce((p, d) => p * d, 1),
      seed,
      lo,
      hi,
    ),
    shape,
    grad,
  };
}

/**
 * Central finite differences of L = Σ out ⊙ R (R fixed random, dot in float64 on the host)
 * against the analytic gradient from backward(). Returns the relative errors per input.
 */
export async function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Input[], options: { h?: number; tol?: number } = {}): Promise<number[]> {
  const h = options.h ?? 1e-2;
  const tol = options.tol ?? 1e-2;
  const params = inputs.map((x) => new Parameter(tensor(x.data, x.shape), x.grad !== false));
  const out = f(...params);
  const R = randomArray(out.size, 999, 0.5, 1.5);
  const Rt = tensor(R, out.shape);
  const { mul, sum } = await import('../src/functional.ts');
  const loss = sum(mul(out, Rt));
  loss.backward();
  loss.dispose();
  Rt.dispose();
  const analytic = await Promise.all(params.map((p) => (p.grad ? p.grad.toArray() : Promise.resolve(null))));
  params.forEach((p) => p.dispose());
  const evalAt = async (datas: Float32Array[]) => {
    const o = noGrad(() => scope(() => f(...datas.map((d, i) => tensor(d, inputs[i].shape)))));
    const v = await o.toArray();
    o.dispose();
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i] * R[i];
    return s;
  };
  const errs: number[] = [];
  for (let k = 0; k < inputs.length; k++) {
    if (inputs[k].grad === false) continue;
    const num = new Float64Array(inputs[k].data.length);
    for (let j = 0; j < num.length; j++) {
      const plus = inputs.map((x) => Float32Array.from(x.data));
      const minus = inputs.map((x) => Float32Array.from(x.data));
      plus[k][j] += h;
      minus[k][j] -= h;
      const hp = plus[k][j] - inputs[k].data[j];
      const hm = inputs[k].data[j] - minus[k][j];
      num[j] = ((await evalAt(plus)) - (await evalAt(minus))) / (hp + hm);
    }
    const a = analytic[k];
    expect(a, `input ${k} got no gradient`).not.toBeNull();
    const e = relErr(a!, num);
    errs.push(e);
    expect(e, `input ${k}: analytic ${Array.from(a!.slice(0, 6))} vs numeric ${Array.from(num.slice(0, 6))}`).toBeLessThan(tol);
  }
  return errs;
}
