/**
 * Implicit-GEMM conv kernels for real GPUs (selected in conv.ts when the adapter is not a CPU, or
 * forced with `setConvTiles({ path: 'implicitGemm' })`). Classic workgroup-shared tiling as the matmul's
 * `shared` kernel: the workgroup stages a BM x tk tile of A and a tk x BN tile of B in workgroup
 * memory, each invocation accumulates tm x tn outputs in registers. The im2col operand is never
 * materialised: its tiles are gathered from the NCHW activations while loading workgroup memory.
 *
 * - `gemmConvWgsl` (forward and input gradient, from the same `GatherConvSpec` as the direct
 *   kernel): M = pixels of the computed sub-grid (N·A·B), N = output channels (per group),
 *   K = reduction channels x taps. Lanes run along pixels, so the gathers of the source and the
 *   stores of the output are coalesced. The input gradient of a strided conv is one such GEMM per
 *   stride residue class (only the taps that reach it).
 * - `gemmWeightGradWgsl`: M = output channels, N = C/groups·KH·KW, K = N·OH·OW pixels. Loader
 *   lanes run along the pixels, so reads of dy and x are coalesced; split-K over contiguous pixel
 *   chunks writes partials [S, O, C/groups, KH, KW] that `sumPartialsWgsl` adds in order.
 *
 * Index decoding that does not depend on the K step (a loader slot's pixel, channel or column)
 * is hoisted out of the K loop. When the K tile divides the reduction channels (every layer
 * but a network's first), K is ordered (tap, channel) so a K tile has one tap, decoded once.
 */
import type { GatherConvSpec } from './conv.wgsl.ts';
import type { ConvGeometry } from './geometry.ts';

/** Register block (tm x tn), invocations (wgM x wgN), K depth of a shared tile. */
export interface ConvGemmConfig {
  tm: number;
  tn: number;
  wgM: number;
  wgN: number;
  tk: number;
  /**
   * Forward / input gradient: 'strided' (default) = invocation (tx, ty) owns pixels tx + i·wgM and
   * channels ty + j·wgN (scalar workgroup reads); 'blocked' = pixels tx·tm + i and channels
   * ty·tn + j, read from workgroup memory as vec4 (tm, tn multiples of 4).
   */
  layout?: 'strided' | 'blocked';
  /**
   * Load the next K tile into registers before this tile's FMAs (its
   * global-memory latency hidden behind them), at the cost of (tm·wgM + tn·wgN)·tk / invocations
   * more registers.
   */
  prefetch?: boolean;
}

/** Split-K of the forward / input-gradient GEMM: S slices of CK reduction steps each (CK a multiple of tk). */
export interface ConvSplitK {
  S: number;
  CK: number;
}

export type GemmConvSpec = Omit<GatherConvSpec, 'TO' | 'TP' | 'WG'>;

const u = (n: number) => `${n}u`;
const i = (n: number) => `${n}i`;

export function checkGemmConfig(op: string, c: ConvGemmConfig): void {
  for (const k of ['tm', 'tn', 'wgM', 'wgN', 'tk'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new Error(`${op}: conv GEMM tile ${k} must be a positive integer, got ${c[k]} (${JSON.stringify(c)})`);
  }
  if (c.wgM * c.wgN > 1024) throw new Error(`${op}: conv GEMM workgroup ${c.wgM}x${c.wgN} exceeds 1024 invocations`);
  if (c.layout === 'blocked' && (c.tm % 4 !== 0 || c.tn % 4 !== 0))
    throw new Error(`${op}: blocked conv GEMM tiles need tm and tn multiples of 4, got ${JSON.stringify(c)}`);
}

/** Workgroup memory (bytes) of the forward / input-gradient GEMM and of the weight-gradient GEMM. */
export function gemmConvSharedBytes(c: ConvGemmConfig): number {
  return (c.tm * c.wgM + c.tn * c.wgN + (c.layout === 'blocked' ? 4 : 1)) * c.tk * 4;
}
export function gemmWeightGradSharedBytes(c: ConvGemmConfig): number {
  return (c.tm * c.wgM + c.tn * c.wgN + (c.layout === 'blocked' ? 8 : 2)) * c.tk * 4;
}

/** `c` with its K tile halved until the workgroup memory fits `limit` bytes. */
export function fitSharedMemory(op: string, c: ConvGemmConfig, bytes: (c: ConvGemmConfig) => number, limit: number): ConvGemmConfig {
  let r = c;
  while (bytes(r) > limit && r.tk > 1) r = { ...r, tk: Math.ceil(r.tk / 2) };
  if (bytes(r) > limit) throw new Error(`${op}: conv GEMM tiles ${JSON.stringify(c)} need ${bytes(r)} bytes of workgroup memory, over this device's ${limit}`);
  return r;
}

/** Workgroups of the forward / input-gradient GEMM: pixel tiles (folded into x, y) x (channel tiles · groups). */
export function gemmConvGrid(s: GemmConvSpec, c: ConvGemmConfig, maxWg = 65535, splits = 1): [number, number, number] {
  const PT = Math.ceil((s.N * s.A * s.B) / (c.tm * c.wgM));
  const CT = Math.ceil(s.Og / (c.tn * c.wgN));
  const y = Math.ceil(PT / maxWg);
  return [Math.ceil(PT / y), y, CT * s.groups * splits];
}

/** The reduction length K (channels x reaching taps) of a forward / input-gradient GEMM. */
export function gemmConvK(s: GemmConvSpec): number {
  return s.R * s.tapsH.count * s.tapsW.count;
}

/**
 * Split count when the output tiles are fewer than `target` workgroups (small maps against many
 * channels: ResNet's 512 @ 7): S slices of at least 2 K tiles, partials under `maxBytes`
 * (`outElems` floats per slice). The same S serves every stride class of an input gradient
 * (a class with a shorter K gets empty slices, which write zeros).
 */
export function gemmConvSplitK(s: GemmConvSpec, c: ConvGemmConfig, target: number, outElems: number, maxBytes: number): number {
  const PT = Math.ceil((s.N * s.A * s.B) / (c.tm * c.wgM));
  const CT = Math.ceil(s.Og / (c.tn * c.wgN)) * s.groups;
  const S = Math.min(Math.ceil(target / (PT * CT)), Math.floor(gemmConvK(s) / (2 * c.tk)), Math.floor(maxBytes / (outElems * 4)), Math.floor(65535 / CT));
  return Math.max(1, S);
}

/** Slice length of an S-way split of this GEMM's K (a multiple of tk, so a K tile never spans two slices). */
export function convSplitOf(s: GemmConvSpec, c: ConvGemmConfig, S: number): ConvSplitK {
  const K = gemmConvK(s);
  return S > 1 ? { S, CK: Math.ceil(K / S / c.tk) * c.tk } : { S: 1, CK: K };
}

/**
 * The per-call sizes of `gemmConvWgsl`: the batch (through the pixel count P and the slice
 * stride) and the split, so that one pipeline serves every batch size and split count of a
 * layer shape. `addBias` (forward with a bias only): 1 when unsplit, 0 when the sum adds it.
 */
export function gemmConvUniforms(s: GemmConvSpec, split: ConvSplitK): Record<string, ['u32', number]> {
  const r: Record<string, ['u32', number]> = {
    P: ['u32', s.N * s.A * s.B],
    CK: ['u32', split.CK],
    slice: ['u32', split.S > 1 ? s.N * s.O * s.OH * s.OW : 0],
  };
  if (s.bias) r.addBias = ['u32', split.S > 1 ? 0 : 1];
  return r;
}

/**
 * Sums the S split-K slices of `u.total` elements in order (deterministic), adding the
 * per-channel bias when given (O channels of hw pixels). S and the total (the batch) are
 * uniforms: one pipeline per bias layout serves every batch size and split count.
 */
export function sumSplitsWgsl(bias: { O: number; hw: number } | null, wg: number): string {
  const add = bias ? ` + bias_get(min((i % ${u(bias.O * bias.hw)}) / ${u(bias.hw)}, ${u(bias.O - 1)}))` : '';
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (i >= u.total) { return; }
  var acc = 0.0;
  for (var s = 0u; s < u.S; s++) { acc += part_get(s * u.total + i); }
  out_set(i, acc${add});
}
`;
}

/**
 * The batch size and the split never enter the source (`gemmConvUniforms`: pixel count P, slice
 * length CK, slice stride, bias on/off), so a partial last batch or a new split count reuses the
 * pipeline; they are read once, outside the K loop.
 */
export function gemmConvWgsl(s: GemmConvSpec, c: ConvGemmConfig): string {
  const { tm, tn, wgM, wgN, tk } = c;
  const blocked = c.layout === 'blocked';
  const BM = tm * wgM;
  const BN = tn * wgN;
  // Rows of tb padded (one word; blocked: one vec4): its loader's lanes run along k, so an
  // unpadded 64-word row stride would put them all in one shared-memory bank.
  const SA = blocked ? BM / 4 : BM;
  const SB = blocked ? BN / 4 + 1 : BN + 1;
  // Split slices carry no bias (u.addBias = 0); their sum adds it.
  const bias = s.bias;
  const T = wgM * wgN;
  const Ht = s.tapsH;
  const Wt = s.tapsW;
  const TT = Ht.count * Wt.count;
  const K = s.R * TT;
  const CT = Math.ceil(s.Og / BN);
  const IHW = s.IH * s.IW;
  const OHW = s.OH * s.OW;
  const L: string[] = [];
  const p = (x: string) => L.push(x);
  const elem = blocked ? 'vec4<f32>' : 'f32';
  p(`var<workgroup> ta: array<${elem}, ${SA * tk}>;`);
  p(`var<workgroup> tb: array<${elem}, ${SB * tk}>;`);
  p(`@compute @workgroup_size(${wgM}, ${wgN}, 1)`);
  p(
    'fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lidv: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {',
  );
  p('  let tx = lidv.x;');
  p('  let ty = lidv.y;');
  p('  let pt = wid.x + wid.y * nwg.x;');
  p('  let P = u.P;');
  p(`  if (pt * ${u(BM)} >= P) { return; }`);
  p(`  let split = wid.z / ${u(CT * s.groups)};`);
  p(`  let zc = wid.z % ${u(CT * s.groups)};`);
  p(`  let g = zc / ${u(CT)};`);
  p(`  let m0 = pt * ${u(BM)};`);
  p(`  let o0 = (zc % ${u(CT)}) * ${u(BN)};`);
  p('  let kBeg = split * u.CK;');
  p(`  let kEnd = min(kBeg + u.CK, ${u(K)});`);
  for (let a = 0; a < tm; a++) for (let b = 0; b < tn; b++) p(`  var c${a}_${b} = 0.0;`);
  if (K === 0) {
    // No tap reaches this residue class: zeros. Keep both inputs referenced (layout 'auto').
    p('  if (lid == 4294967295u) { out_set(0u, src_get(0u) + w_get(0u)); }');
  } else {
    // Decodes k (reduction channel r, tap th, tw) into `${pre}r`, `${pre}th`, `${pre}tw`.
    const decodeK = (pre: string, k: string) => {
      p(`      let ${pre}r = ${k} / ${u(TT)};`);
      p(`      let ${pre}t = ${k} % ${u(TT)};`);
      p(`      let ${pre}th = ${pre}t / ${u(Wt.count)};`);
      p(`      let ${pre}tw = ${pre}t % ${u(Wt.count)};`);
    };
    // A loader slots: element e = lid + q*T of the BM x tk tile, pixel mm = e % BM (lanes along pixels), kk = e / BM.
    const QA = Math.ceil((BM * tk) / T);
    const aPix = new Map<number, string>();
    for (let q = 0; q < QA; q++) {
      const sh = (q * T) % BM;
      if (!aPix.has(sh)) {
        const v = `ap${aPix.size}`;
        aPix.set(sh, v);
        p(`  let ${v}m = (lid + ${u(sh)}) % ${u(BM)};`);
        p(`  let ${v} = m0 + ${v}m;`);
        p(`  let ${v}ok = ${v} < P;`);
        p(`  let ${v}n = ${v} / ${u(s.A * s.B)};`);
        p(`  let ${v}a = (${v} % ${u(s.A * s.B)}) / ${u(s.B)};`);
        p(`  let ${v}b = ${v} % ${u(s.B)};`);
        p(`  let ${v}x = ${v}n * ${u(s.groups * s.R * IHW)} + g * ${u(s.R * IHW)};`);
        p(`  let ${v}h = i32(${v}a * ${u(Ht.scale)}) + ${i(Ht.off0)};`);
        p(`  let ${v}w = i32(${v}b * ${u(Wt.scale)}) + ${i(Wt.off0)};`);
      }
      p(`  let ak${q} = (lid + ${u(sh)}) / ${u(BM)} + ${u(Math.floor((q * T) / BM))};`);
    }
    // B loader slots: element e = lid + q*T of the tk x BN tile, kk = e % tk (lanes along k), nn = e / tk.
    const QB = Math.ceil((BN * tk) / T);
    const tapMajor = s.R % tk === 0;
    const fullTaps = Ht.k0 === 0 && Ht.kStep === 1 && Wt.k0 === 0 && Wt.kStep === 1 && Wt.count === s.KW && s.wR === TT;
    for (let q = 0; q < QB; q++) {
      p(`  let bn${q} = (lid + ${u(q * T)}) / ${u(tk)};`);
      p(`  let bk${q} = (lid + ${u(q * T)}) % ${u(tk)};`);
      p(`  let bo${q} = o0 + bn${q};`);
      p(`  let bok${q} = bo${q} < ${u(s.Og)} && bn${q} < ${u(BN)};`);
      p(`  let bw${q} = g * ${u(s.wGroup)} + min(bo${q}, ${u(s.Og - 1)}) * ${u(s.wO)};`);
    }
    // Global loads of the K tile at `kv` into registers la*/lb* (a block of its own, so the
    // prefetching variant can issue the next tile's loads before this tile's FMAs).
    const loads = (kv: string) => {
      if (tapMajor) {
        // K ordered (tap, r) and tk | R: one tap per K tile, decoded once (uniform); the loaders
        // only add the channel offset.
        p(`    let tap = ${kv} / ${u(s.R)};`);
        p(`    let r0 = ${kv} % ${u(s.R)};`);
        p(`    let th = tap / ${u(Wt.count)};`);
        p(`    let tw = tap % ${u(Wt.count)};`);
        p(`    let dh = i32(th) * ${i(Ht.offStep)};`);
        p(`    let dw = i32(tw) * ${i(Wt.offStep)};`);
        p(`    let wtap = (${u(Ht.k0)} + th * ${u(Ht.kStep)}) * ${u(s.KW)} + ${u(Wt.k0)} + tw * ${u(Wt.kStep)};`);
      }
      for (let q = 0; q < QA; q++) {
        const v = aPix.get((q * T) % BM)!;
        const guard = (q + 1) * T > BM * tk ? ` && ak${q} < ${u(tk)}` : '';
        p('    {');
        p('      var v = 0.0;');
        if (tapMajor) {
          p(`      let ih = ${v}h + dh;`);
          p(`      let iw = ${v}w + dw;`);
          p(
            `      if (${v}ok${guard} && u32(ih) < ${u(s.IH)} && u32(iw) < ${u(s.IW)}) { v = src_get(${v}x + (r0 + ak${q}) * ${u(IHW)} + u32(ih) * ${u(s.IW)} + u32(iw)); }`,
          );
        } else {
          p(`      let k = ${kv} + ak${q};`);
          p(`      if (${v}ok && k < kEnd${guard}) {`);
          decodeK('', 'k');
          p(`        let ih = ${v}h + i32(th) * ${i(Ht.offStep)};`);
          p(`        let iw = ${v}w + i32(tw) * ${i(Wt.offStep)};`);
          p(`        if (u32(ih) < ${u(s.IH)} && u32(iw) < ${u(s.IW)}) { v = src_get(${v}x + r * ${u(IHW)} + u32(ih) * ${u(s.IW)} + u32(iw)); }`);
          p('      }');
        }
        p(`      la${q} = v;`);
        p('    }');
      }
      for (let q = 0; q < QB; q++) {
        p('    {');
        p('      var v = 0.0;');
        if (tapMajor) {
          p(`      if (bok${q}) { v = w_get(bw${q} + (r0 + bk${q}) * ${u(s.wR)} + wtap); }`);
        } else {
          p(`      let k = ${kv} + bk${q};`);
          p(`      if (bok${q} && k < kEnd) {`);
          if (fullTaps) {
            p(`        v = w_get(bw${q} + k);`);
          } else {
            decodeK('', 'k');
            p(`        v = w_get(bw${q} + r * ${u(s.wR)} + (${u(Ht.k0)} + th * ${u(Ht.kStep)}) * ${u(s.KW)} + ${u(Wt.k0)} + tw * ${u(Wt.kStep)});`);
          }
          p('      }');
        }
        p(`      lb${q} = v;`);
        p('    }');
      }
    };
    const stores = () => {
      for (let q = 0; q < QA; q++) {
        const v = aPix.get((q * T) % BM)!;
        const at = blocked ? `ta[ak${q} * ${u(SA)} + ${v}m / 4u][${v}m % 4u]` : `ta[ak${q} * ${u(SA)} + ${v}m]`;
        p(`    if (ak${q} < ${u(tk)}) { ${at} = la${q}; }`);
      }
      for (let q = 0; q < QB; q++) {
        const bt = blocked ? `tb[bk${q} * ${u(SB)} + bn${q} / 4u][bn${q} % 4u]` : `tb[bk${q} * ${u(SB)} + bn${q}]`;
        p(`    if (bn${q} < ${u(BN)}) { ${bt} = lb${q}; }`);
      }
    };
    for (let q = 0; q < QA; q++) p(`  var la${q} = 0.0;`);
    for (let q = 0; q < QB; q++) p(`  var lb${q} = 0.0;`);
    if (c.prefetch) {
      p('  if (kBeg < kEnd) {');
      loads('kBeg');
      p('  }');
    }
    p(`  for (var k0 = kBeg; k0 < kEnd; k0 += ${u(tk)}) {`);
    if (c.prefetch) {
      stores();
      p('    workgroupBarrier();');
      // The next tile's loads are in flight while this tile's FMAs run.
      p(`    if (k0 + ${u(tk)} < kEnd) {`);
      loads(`(k0 + ${u(tk)})`);
      p('    }');
    } else {
      p('    {');
      loads('k0');
      p('    }');
      stores();
      p('    workgroupBarrier();');
    }
    p(`    for (var kk = 0u; kk < ${u(tk)}; kk++) {`);
    if (blocked) {
      const comp = ['x', 'y', 'z', 'w'];
      for (let q = 0; q < tm / 4; q++) p(`      let a${q} = ta[kk * ${u(SA)} + tx * ${u(tm / 4)} + ${u(q)}];`);
      for (let q = 0; q < tn / 4; q++) p(`      let b${q} = tb[kk * ${u(SB)} + ty * ${u(tn / 4)} + ${u(q)}];`);
      for (let a = 0; a < tm; a++) for (let b = 0; b < tn; b++) p(`      c${a}_${b} = fma(a${a >> 2}.${comp[a & 3]}, b${b >> 2}.${comp[b & 3]}, c${a}_${b});`);
    } else {
      for (let a = 0; a < tm; a++) p(`      let a${a} = ta[kk * ${u(SA)} + tx + ${u(a * wgM)}];`);
      for (let b = 0; b < tn; b++) p(`      let b${b} = tb[kk * ${u(SB)} + ty + ${u(b * wgN)}];`);
      for (let a = 0; a < tm; a++) for (let b = 0; b < tn; b++) p(`      c${a}_${b} = fma(a${a}, b${b}, c${a}_${b});`);
    }
    p('    }');
    p('    workgroupBarrier();');
    p('  }');
  }
  const ch = (b: number) => (blocked ? `ty * ${u(tn)} + ${u(b)}` : `ty + ${u(b * wgN)}`);
  const pix = (a: number) => (blocked ? `tx * ${u(tm)} + ${u(a)}` : `tx + ${u(a * wgM)}`);
  for (let b = 0; b < tn; b++) {
    p(`  let oc${b} = g * ${u(s.Og)} + o0 + ${ch(b)};`);
    p(`  let ook${b} = o0 + ${ch(b)} < ${u(s.Og)};`);
    if (bias) p(`  let bias${b} = select(0.0, bias_get(min(oc${b}, ${u(s.O - 1)})), u.addBias != 0u);`);
  }
  p('  let slice = split * u.slice;');
  for (let a = 0; a < tm; a++) {
    p('  {');
    p(`    let m = m0 + ${pix(a)};`);
    p('    if (m < P) {');
    p(`      let n = m / ${u(s.A * s.B)};`);
    p(`      let pa = (m % ${u(s.A * s.B)}) / ${u(s.B)};`);
    p(`      let pb = m % ${u(s.B)};`);
    p(`      let d = slice + n * ${u(s.O * OHW)} + (${u(s.rh)} + pa * ${u(s.th)}) * ${u(s.OW)} + ${u(s.rw)} + pb * ${u(s.tw)};`);
    for (let b = 0; b < tn; b++) p(`      if (ook${b}) { out_set(d + oc${b} * ${u(OHW)}, c${a}_${b}${bias ? ` + bias${b}` : ''}); }`);
    p('    }');
    p('  }');
  }
  p('}');
  return L.join('\n') + '\n';
}

export interface GemmWeightGradSpec extends ConvGeometry {
  Rg: number;
  Og: number;
  /** Splits of the N·OH·OW pixels (K) and pixels per split (a multiple of tk): uniforms, not in the source. */
  S: number;
  CK: number;
}

/** The per-call sizes of `gemmWeightGradWgsl`: split count, pixels per split and pixels (the batch). */
export function gemmWeightGradUniforms(s: GemmWeightGradSpec): Record<string, ['u32', number]> {
  return { S: ['u32', s.S], CK: ['u32', s.CK], P: ['u32', s.N * s.OH * s.OW] };
}

/** Workgroups of the weight-gradient GEMM: column tiles x channel tiles x (splits · groups). */
export function gemmWeightGradGrid(s: GemmWeightGradSpec, c: ConvGemmConfig): [number, number, number] {
  return [Math.ceil((s.Rg * s.KH * s.KW) / (c.tn * c.wgN)), Math.ceil(s.Og / (c.tm * c.wgM)), s.S * s.groups];
}

/** Batch size and split count are uniforms (`gemmWeightGradUniforms`), read once before the K loop. */
export function gemmWeightGradWgsl(s: Omit<GemmWeightGradSpec, 'S' | 'CK'>, c: ConvGemmConfig): string {
  const { tm, tn, wgM, wgN, tk } = c;
  const blocked = c.layout === 'blocked';
  const BM = tm * wgM;
  const BN = tn * wgN;
  // Both loaders' lanes run along k (pixels): rows padded by one word (blocked: one vec4) against
  // bank conflicts. Blocked: invocation (tx, ty) owns channels ty·tm + i and columns tx·tn + j,
  // read from workgroup memory as vec4.
  const SA = blocked ? BM / 4 + 1 : BM + 1;
  const SB = blocked ? BN / 4 + 1 : BN + 1;
  const T = wgM * wgN;
  const KK = s.KH * s.KW;
  const J = s.Rg * KK;
  const OHW = s.OH * s.OW;
  const HW = s.H * s.W;
  const L: string[] = [];
  const p = (x: string) => L.push(x);
  const elem = blocked ? 'vec4<f32>' : 'f32';
  p(`var<workgroup> ta: array<${elem}, ${SA * tk}>;`);
  p(`var<workgroup> tb: array<${elem}, ${SB * tk}>;`);
  p(`@compute @workgroup_size(${wgN}, ${wgM}, 1)`);
  p('fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lidv: vec3<u32>, @builtin(local_invocation_index) lid: u32) {');
  p('  let tx = lidv.x;');
  p('  let ty = lidv.y;');
  p('  let split = wid.z % u.S;');
  p('  let g = wid.z / u.S;');
  p(`  let n0 = wid.x * ${u(BN)};`);
  p(`  let o0 = wid.y * ${u(BM)};`);
  p('  let kBeg = split * u.CK;');
  p('  let kLen = min(u.CK, u.P - kBeg);');
  for (let a = 0; a < tm; a++) for (let b = 0; b < tn; b++) p(`  var c${a}_${b} = 0.0;`);
  // Both loaders: element e = lid + q*T, kk = e % tk (lanes along pixels), row = e / tk.
  const QA = Math.ceil((BM * tk) / T);
  const QB = Math.ceil((BN * tk) / T);
  const kkKeys = new Map<number, string>();
  const kkVar = (q: number) => {
    const sh = (q * T) % tk;
    if (!kkKeys.has(sh)) kkKeys.set(sh, `kp${kkKeys.size}`);
    return kkKeys.get(sh)!;
  };
  for (let q = 0; q < Math.max(QA, QB); q++) kkVar(q);
  for (const [sh, v] of kkKeys) p(`  let ${v}k = (lid + ${u(sh)}) % ${u(tk)};`);
  for (let q = 0; q < QA; q++) {
    p(`  let am${q} = (lid + ${u(q * T)}) / ${u(tk)};`);
    p(`  let ao${q} = o0 + am${q};`);
    p(`  let aok${q} = ao${q} < ${u(s.Og)} && am${q} < ${u(BM)};`);
    p(`  let ad${q} = (g * ${u(s.Og)} + min(ao${q}, ${u(s.Og - 1)})) * ${u(OHW)};`);
  }
  for (let q = 0; q < QB; q++) {
    p(`  let bn${q} = (lid + ${u(q * T)}) / ${u(tk)};`);
    p(`  let bj${q} = n0 + bn${q};`);
    p(`  let bok${q} = bj${q} < ${u(J)} && bn${q} < ${u(BN)};`);
    p(`  let bjc${q} = min(bj${q}, ${u(J - 1)});`);
    p(`  let bt${q} = bjc${q} % ${u(KK)};`);
    p(`  let bh${q} = i32(bt${q} / ${u(s.KW)}) * ${i(s.dh)} - ${i(s.ph)};`);
    p(`  let bw${q} = i32(bt${q} % ${u(s.KW)}) * ${i(s.dw)} - ${i(s.pw)};`);
    p(`  let bx${q} = (g * ${u(s.Rg)} + bjc${q} / ${u(KK)}) * ${u(HW)};`);
  }
  // Global loads of the K tile at `kv` into registers la*/lb*; `stores` puts them in workgroup
  // memory (split so that the prefetching variant loads the next tile during this one's FMAs).
  const loads = (kv: string) => {
    // One pixel decode per distinct kk of this invocation's slots.
    for (const [, v] of kkKeys) {
      p(`    let ${v}p = kBeg + ${kv} + ${v}k;`);
      p(`    let ${v}ok = ${kv} + ${v}k < kLen;`);
      p(`    let ${v}n = ${v}p / ${u(OHW)};`);
      p(`    let ${v}r = ${v}p % ${u(OHW)};`);
      p(`    let ${v}h = i32((${v}r / ${u(s.OW)}) * ${u(s.sh)});`);
      p(`    let ${v}w = i32((${v}r % ${u(s.OW)}) * ${u(s.sw)});`);
    }
    for (let q = 0; q < QA; q++) {
      const v = kkVar(q);
      p('    {');
      p('      var v = 0.0;');
      p(`      if (aok${q} && ${v}ok) { v = dy_get(${v}n * ${u(s.O * OHW)} + ad${q} + ${v}r); }`);
      p(`      la${q} = v;`);
      p('    }');
    }
    for (let q = 0; q < QB; q++) {
      const v = kkVar(q);
      p('    {');
      p('      var v = 0.0;');
      p(`      let ih = ${v}h + bh${q};`);
      p(`      let iw = ${v}w + bw${q};`);
      p(
        `      if (bok${q} && ${v}ok && u32(ih) < ${u(s.H)} && u32(iw) < ${u(s.W)}) { v = x_get(${v}n * ${u(s.C * HW)} + bx${q} + u32(ih) * ${u(s.W)} + u32(iw)); }`,
      );
      p(`      lb${q} = v;`);
      p('    }');
    }
  };
  const stores = () => {
    for (let q = 0; q < QA; q++) {
      const v = kkVar(q);
      p(`    if (am${q} < ${u(BM)}) { ${blocked ? `ta[${v}k * ${u(SA)} + am${q} / 4u][am${q} % 4u]` : `ta[${v}k * ${u(SA)} + am${q}]`} = la${q}; }`);
    }
    for (let q = 0; q < QB; q++) {
      const v = kkVar(q);
      p(`    if (bn${q} < ${u(BN)}) { ${blocked ? `tb[${v}k * ${u(SB)} + bn${q} / 4u][bn${q} % 4u]` : `tb[${v}k * ${u(SB)} + bn${q}]`} = lb${q}; }`);
    }
  };
  for (let q = 0; q < QA; q++) p(`  var la${q} = 0.0;`);
  for (let q = 0; q < QB; q++) p(`  var lb${q} = 0.0;`);
  if (c.prefetch) {
    p('  {');
    loads('0u');
    p('  }');
    p(`  for (var k0 = 0u; k0 < kLen; k0 += ${u(tk)}) {`);
    stores();
    p('    workgroupBarrier();');
    // The next tile's loads are in flight while this tile's FMAs run.
    p(`    if (k0 + ${u(tk)} < kLen) {`);
    loads(`(k0 + ${u(tk)})`);
    p('    }');
  } else {
    p(`  for (var k0 = 0u; k0 < kLen; k0 += ${u(tk)}) {`);
    p('    {');
    loads('k0');
    p('    }');
    stores();
    p('    workgroupBarrier();');
  }
  p(`    for (var kk = 0u; kk < ${u(tk)}; kk++) {`);
  if (blocked) {
    const comp = ['x', 'y', 'z', 'w'];
    for (let q = 0; q < tm / 4; q++) p(`      let a${q} = ta[kk * ${u(SA)} + ty * ${u(tm / 4)} + ${u(q)}];`);
    for (let q = 0; q < tn / 4; q++) p(`      let b${q} = tb[kk * ${u(SB)} + tx * ${u(tn / 4)} + ${u(q)}];`);
    for (let a = 0; a < tm; a++) for (let b = 0; b < tn; b++) p(`      c${a}_${b} = fma(a${a >> 2}.${comp[a & 3]}, b${b >> 2}.${comp[b & 3]}, c${a}_${b});`);
  } else {
    for (let a = 0; a < tm; a++) p(`      let a${a} = ta[kk * ${u(SA)} + ty + ${u(a * wgM)}];`);
    for (let b = 0; b < tn; b++) p(`      let b${b} = tb[kk * ${u(SB)} + tx + ${u(b * wgN)}];`);
    for (let a = 0; a < tm; a++) for (let b = 0; b < tn; b++) p(`      c${a}_${b} = fma(a${a}, b${b}, c${a}_${b});`);
  }
  p('    }');
  p('    workgroupBarrier();');
  p('  }');
  p(`  let base = split * ${u(s.O * J)};`);
  for (let a = 0; a < tm; a++) {
    p(`  let wo${a} = o0 + ${blocked ? `ty * ${u(tm)} + ${u(a)}` : `ty + ${u(a * wgM)}`};`);
    p(`  if (wo${a} < ${u(s.Og)}) {`);
    p(`    let row = base + (g * ${u(s.Og)} + wo${a}) * ${u(J)};`);
    for (let b = 0; b < tn; b++) {
      p(`    { let j = n0 + ${blocked ? `tx * ${u(tn)} + ${u(b)}` : `tx + ${u(b * wgN)}`}; if (j < ${u(J)}) { out_set(row + j, c${a}_${b}); } }`);
    }
    p('  }');
  }
  p('}');
  return L.join('\n') + '\n';
}
