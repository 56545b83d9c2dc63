import { fmt, intPair, type IntPair, type Shape } from '../../shape.ts';
import type { TapAxis } from './conv.wgsl.ts';

export interface Conv2dOptions {
  stride?: IntPair;
  padding?: IntPair;
  dilation?: IntPair;
  groups?: number;
}

/** Resolved geometry of one convolution. */
export interface ConvGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  groups: number;
}

/**
 * Validates shapes and options and returns the geometry. `xShape` is NCHW, `wShape` OIHW with
 * I = C / groups.
 */
export function convGeometry(op: string, xShape: Shape, wShape: Shape, opts: Conv2dOptions = {}): ConvGeometry {
  const desc = `input ${fmt(xShape)}, weight ${fmt(wShape)}`;
  if (xShape.length !== 4) throw new Error(`${op}: input must be 4-D NCHW, got ${fmt(xShape)} (${desc})`);
  if (wShape.length !== 4) throw new Error(`${op}: weight must be 4-D OIHW, got ${fmt(wShape)} (${desc})`);
  const [sh, sw] = intPair(op, 'stride', opts.stride ?? 1, 1);
  const [ph, pw] = intPair(op, 'padding', opts.padding ?? 0, 0);
  const [dh, dw] = intPair(op, 'dilation', opts.dilation ?? 1, 1);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${op}: groups must be a positive integer, got ${groups} (${desc})`);
  const [N, C, H, W] = xShape;
  const [O, I, KH, KW] = wShape;
  if (C % groups !== 0) throw new Error(`${op}: groups=${groups} does not divide the ${C} input channels (${desc})`);
  if (O % groups !== 0) throw new Error(`${op}: groups=${groups} does not divide the ${O} output channels (${desc})`);
  if (I * groups !== C) {
    throw new Error(`${op}: channel mismatch: input has ${C} channels, weight expects ${I} x groups=${groups} = ${I * groups} (${desc})`);
  }
  if (KH < 1 || KW < 1) throw new Error(`${op}: empty kernel (${desc})`);
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  if (OH < 1 || OW < 1) {
    throw new Error(
      `${op}: output would be empty (${OH}x${OW}): kernel ${KH}x${KW} dilation ${dh},${dw} larger than the padded input (${desc}, padding ${ph},${pw})`,
    );
  }
  return { N, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, groups };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Taps of a strided conv that reach input coordinate r + s*a: kernel indices k with
 * (r + p - k*d) divisible by s; they form an arithmetic progression.
 */
export function classTaps(r: number, s: number, p: number, d: number, K: number): TapAxis {
  const ks: number[] = [];
  for (let k = 0; k < K; k++) if ((((r + p - k * d) % s) + s) % s === 0) ks.push(k);
  if (ks.length === 0) return { count: 0, k0: 0, kStep: 1, off0: 0, offStep: 0, scale: 1 };
  const step = s / gcd(s, d);
  const off = (k: number) => (r + p - k * d) / s;
  return { count: ks.length, k0: ks[0], kStep: step, off0: off(ks[0]), offStep: -(d * step) / s, scale: 1 };
}
