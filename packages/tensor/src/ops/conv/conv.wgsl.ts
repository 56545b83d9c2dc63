/**
 * WGSL generators for conv2d (NCHW activations, OIHW weights).
 *
 * `gatherConvWgsl` is one register-blocked direct kernel used for both the forward pass and the
 * input gradient. Each invocation keeps TO output channels x TP output pixels in registers; for
 * every kernel tap it computes its pixels' source offsets and validity once, then streams the
 * reduction channels, so each loaded input value feeds TO FMAs and each weight TP FMAs. No im2col
 * buffer exists. The input gradient of a strided conv is split into stride² residue classes, each
 * a stride-1 gather over the taps that hit it (no wasted multiply-by-zero taps).
 *
 * `convWeightGradWgsl` computes dw: each invocation owns TO output channels x TR input channels of
 * one tap and streams (n, oh, ow) over the analytically clipped valid range (no bounds checks in
 * the inner loop).
 */

/** An arithmetic progression of kernel taps along one axis. */
export interface TapAxis {
  /** Number of taps. */
  count: number;
  /** Kernel index of tap t: k0 + t * kStep. */
  k0: number;
  kStep: number;
  /** Source coordinate of tap t: scale * outCoord + off0 + t * offStep. */
  off0: number;
  offStep: number;
  /** Source coordinate = scale * a + off. */
  scale: number;
}

export interface GatherConvSpec {
  N: number;
  /** Reduction channels per group, output channels (total and per group), groups. */
  R: number; O: number; Og: number; groups: number;
  /** Source tensor spatial size (its channel count is groups * R). */
  IH: number; IW: number;
  /** Computed sub-grid: A x B pixels per image. */
  A: number; B: number;
  /** Destination tensor spatial size and the sub-grid's placement in it: (r + t * a). */
  OH: number; OW: number; rh: number; rw: number; th: number; tw: number;
  tapsH: TapAxis; tapsW: TapAxis;
  /** Kernel width (taps index the weight as kh * KW + kw). */
  KW: number;
  /** Weight element offset: g * wGroup + (o - g * Og) * wO + r * wR + kh * KW + kw. */
  wGroup: number; wO: number; wR: number;
  bias: boolean;
  TO: number; TP: number; WG: number;
}

const u = (n: number) => `${n}u`;
const i = (n: number) => `${n}i`;

export function gatherConvWgsl(s: GatherConvSpec): string {
  const { TO, TP } = s;
  const P = s.N * s.A * s.B;
  const AB = s.A * s.B;
  const IHW = s.IH * s.IW;
  const OHW = s.OH * s.OW;
  const H = s.tapsH;
  const W = s.tapsW;
  // Whether every tap of every computed pixel lands inside the source (no checks needed).
  const inside = (t: TapAxis, n: number, size: number) => {
    if (t.count === 0) return true;
    const lo = Math.min(t.off0, t.off0 + (t.count - 1) * t.offStep);
    const hi = Math.max(t.off0, t.off0 + (t.count - 1) * t.offStep) + t.scale * (n - 1);
    return lo >= 0 && hi < size;
  };
  const hInside = inside(H, s.A, s.IH);
  const wInside = inside(W, s.B, s.IW);
  const L: string[] = [];
  L.push(`@compute @workgroup_size(${s.WG}, 1, 1)`);
  L.push('fn main(@builtin(global_invocation_id) gid: vec3<u32>) {');
  L.push(`  let p0 = gid.x * ${u(TP)};`);
  L.push(`  let o0 = gid.y * ${u(TO)};`);
  L.push(`  if (p0 >= ${u(P)}) { return; }`);
  L.push(`  let g = o0 / ${u(s.Og)};`);
  for (let j = 0; j < TP; j++) {
    L.push(`  let q${j} = min(p0 + ${u(j)}, ${u(P - 1)});`);
    L.push(`  let n${j} = q${j} / ${u(AB)};`);
    L.push(`  let a${j} = (q${j} % ${u(AB)}) / ${u(s.B)};`);
    L.push(`  let b${j} = q${j} % ${u(s.B)};`);
    L.push(`  let xb${j} = i32(n${j} * ${u(s.groups * s.R * IHW)} + g * ${u(s.R * IHW)});`);
    L.push(`  let ia${j} = i32(a${j} * ${u(H.scale)});`);
    L.push(`  let ib${j} = i32(b${j} * ${u(W.scale)});`);
  }
  for (let o = 0; o < TO; o++) {
    L.push(`  let oc${o} = min(o0 + ${u(o)}, ${u(s.O - 1)});`);
    L.push(`  let wb${o} = g * ${u(s.wGroup)} + (oc${o} - g * ${u(s.Og)}) * ${u(s.wO)};`);
  }
  for (let o = 0; o < TO; o++) {
    for (let j = 0; j < TP; j++) L.push(`  var c${o}_${j} = ${s.bias ? `bias_get(oc${o})` : '0.0'};`);
  }
  L.push(`  for (var th = 0u; th < ${u(H.count)}; th++) {`);
  L.push(`    let kh = ${u(H.k0)} + th * ${u(H.kStep)};`);
  L.push(`    let offh = ${i(H.off0)} + i32(th) * ${i(H.offStep)};`);
  for (let j = 0; j < TP; j++) {
    L.push(`    let ih${j} = ia${j} + offh;`);
    if (!hInside) L.push(`    let okh${j} = ih${j} >= 0i && ih${j} < ${i(s.IH)};`);
  }
  L.push(`    for (var tw = 0u; tw < ${u(W.count)}; tw++) {`);
  L.push(`      let kw = ${u(W.k0)} + tw * ${u(W.kStep)};`);
  L.push(`      let offw = ${i(W.off0)} + i32(tw) * ${i(W.offStep)};`);
  L.push(`      let wt = kh * ${u(s.KW)} + kw;`);
  const checked = !hInside || !wInside;
  for (let j = 0; j < TP; j++) {
    L.push(`      let iw${j} = ib${j} + offw;`);
    const conds: string[] = [];
    if (!hInside) conds.push(`okh${j}`);
    if (!wInside) conds.push(`iw${j} >= 0i && iw${j} < ${i(s.IW)}`);
    if (checked) {
      L.push(`      let ok${j} = ${conds.join(' && ')};`);
      L.push(`      let x${j}off = select(0u, u32(xb${j} + ih${j} * ${i(s.IW)} + iw${j}), ok${j});`);
    } else {
      L.push(`      let x${j}off = u32(xb${j} + ih${j} * ${i(s.IW)} + iw${j});`);
    }
  }
  for (let o = 0; o < TO; o++) L.push(`      let w${o}off = wb${o} + wt;`);
  L.push(`      for (var r = 0u; r < ${u(s.R)}; r++) {`);
  for (let j = 0; j < TP; j++) {
    const load = `src_get(x${j}off + r * ${u(IHW)})`;
    L.push(`        let x${j} = ${checked ? `select(0.0, ${load}, ok${j})` : load};`);
  }
  for (let o = 0; o < TO; o++) L.push(`        let w${o} = w_get(w${o}off + r * ${u(s.wR)});`);
  for (let o = 0; o < TO; o++) for (let j = 0; j < TP; j++) L.push(`        c${o}_${j} = fma(w${o}, x${j}, c${o}_${j});`);
  L.push('      }');
  L.push('    }');
  L.push('  }');
  for (let j = 0; j < TP; j++) {
    L.push(`  let d${j} = n${j} * ${u(s.O * OHW)} + (${u(s.rh)} + a${j} * ${u(s.th)}) * ${u(s.OW)} + ${u(s.rw)} + b${j} * ${u(s.tw)};`);
  }
  for (let o = 0; o < TO; o++) {
    const oguard = `o0 + ${u(o)} < ${u(s.O)}`;
    for (let j = 0; j < TP; j++) {
      L.push(`  if (${oguard} && p0 + ${u(j)} < ${u(P)}) { out_set(d${j} + oc${o} * ${u(OHW)}, c${o}_${j}); }`);
    }
  }
  L.push('}');
  return L.join('\n') + '\n';
}

export interface WeightGradSpec {
  N: number; C: number; H: number; W: number;
  O: number; OH: number; OW: number;
  /** Input channels per group (the dw's second dim), output channels per group. */
  Rg: number; Og: number;
  KH: number; KW: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  TO: number; TR: number; WG: number;
}

export function convWeightGradWgsl(s: WeightGradSpec): string {
  const { TO, TR } = s;
  const rTiles = Math.ceil(s.Rg / TR);
  const KK = s.KH * s.KW;
  const HW = s.H * s.W;
  const OHW = s.OH * s.OW;
  const L: string[] = [];
  L.push(`@compute @workgroup_size(${s.WG}, 1, 1)`);
  L.push('fn main(@builtin(global_invocation_id) gid: vec3<u32>) {');
  L.push(`  if (gid.x >= ${u(rTiles * KK)}) { return; }`);
  L.push(`  let rt = gid.x % ${u(rTiles)};`);
  L.push(`  let tap = gid.x / ${u(rTiles)};`);
  L.push(`  let kh = i32(tap / ${u(s.KW)});`);
  L.push(`  let kw = i32(tap % ${u(s.KW)});`);
  L.push(`  let o0 = gid.y * ${u(TO)};`);
  L.push(`  let r0 = rt * ${u(TR)};`);
  L.push(`  let g = o0 / ${u(s.Og)};`);
  // Valid output rows/cols: 0 <= o*s - p + k*d < size.
  const range = (k: string, st: number, p: number, d: number, size: number, outSize: number, name: string) => {
    L.push(`  let ${name}c = ${i(p)} - ${k} * ${i(d)};`);
    // ceil(c / st) for possibly negative c, clipped at 0
    L.push(`  let ${name}lo = u32(max(0i, select(${name}c / ${i(st)}, (${name}c + ${i(st - 1)}) / ${i(st)}, ${name}c > 0i)));`);
    L.push(`  let ${name}hiC = ${i(size - 1)} + ${name}c;`);
    L.push(`  let ${name}hi = select(0u, min(${u(outSize)}, u32(${name}hiC / ${i(st)}) + 1u), ${name}hiC >= 0i);`);
  };
  range('kh', s.sh, s.ph, s.dh, s.H, s.OH, 'y');
  range('kw', s.sw, s.pw, s.dw, s.W, s.OW, 'x');
  L.push(`  let offh = kh * ${i(s.dh)} - ${i(s.ph)};`);
  L.push(`  let offw = kw * ${i(s.dw)} - ${i(s.pw)};`);
  for (let o = 0; o < TO; o++) L.push(`  let oc${o} = min(o0 + ${u(o)}, ${u(s.O - 1)});`);
  for (let r = 0; r < TR; r++) L.push(`  let rc${r} = min(r0 + ${u(r)}, ${u(s.Rg - 1)});`);
  for (let o = 0; o < TO; o++) for (let r = 0; r < TR; r++) L.push(`  var c${o}_${r} = 0.0;`);
  L.push(`  for (var n = 0u; n < ${u(s.N)}; n++) {`);
  for (let o = 0; o < TO; o++) L.push(`    let dyb${o} = n * ${u(s.O * OHW)} + oc${o} * ${u(OHW)};`);
  for (let r = 0; r < TR; r++) L.push(`    let xb${r} = n * ${u(s.C * HW)} + (g * ${u(s.Rg)} + rc${r}) * ${u(HW)};`);
  L.push('    for (var oh = ylo; oh < yhi; oh++) {');
  L.push(`      let ih = u32(i32(oh * ${u(s.sh)}) + offh);`);
  L.push(`      let dyrow = oh * ${u(s.OW)};`);
  L.push(`      let xrow = ih * ${u(s.W)};`);
  L.push('      for (var ow = xlo; ow < xhi; ow++) {');
  L.push(`        let iw = u32(i32(ow * ${u(s.sw)}) + offw);`);
  for (let o = 0; o < TO; o++) L.push(`        let d${o} = dy_get(dyb${o} + dyrow + ow);`);
  for (let r = 0; r < TR; r++) L.push(`        let x${r} = x_get(xb${r} + xrow + iw);`);
  for (let o = 0; o < TO; o++) for (let r = 0; r < TR; r++) L.push(`        c${o}_${r} = fma(d${o}, x${r}, c${o}_${r});`);
  L.push('      }');
  L.push('    }');
  L.push('  }');
  for (let o = 0; o < TO; o++) {
    for (let r = 0; r < TR; r++) {
      L.push(`  if (o0 + ${u(o)} < ${u(s.O)} && r0 + ${u(r)} < ${u(s.Rg)}) { out_set((oc${o} * ${u(s.Rg)} + rc${r}) * ${u(KK)} + tap, c${o}_${r}); }`);
    }
  }
  L.push('}');
  return L.join('\n') + '\n';
}
