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
import { fmaNest } from '../../kernel/fma-chain.ts';
import type { ConvGeometry } from './geometry.ts';
import type { ScalarType } from '../../kernel/run.ts';

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
  R: number;
  O: number;
  Og: number;
  groups: number;
  /** Source tensor spatial size (its channel count is groups * R). */
  IH: number;
  IW: number;
  /** Computed sub-grid: A x B pixels per image. */
  A: number;
  B: number;
  /** Destination tensor spatial size and the sub-grid's placement in it: (r + t * a). */
  OH: number;
  OW: number;
  rh: number;
  rw: number;
  th: number;
  tw: number;
  tapsH: TapAxis;
  tapsW: TapAxis;
  /** Kernel width (taps index the weight as kh * KW + kw). */
  KW: number;
  /** Weight element offset: g * wGroup + (o - g * Og) * wO + r * wR + kh * KW + kw. */
  wGroup: number;
  wO: number;
  wR: number;
  bias: boolean;
  TO: number;
  TP: number;
  WG: number;
  /**
   * Multi-row tiles (narrow sub-grids, B <= TP): when set, an invocation owns RT consecutive rows
   * of the flattened N x A row index (rows may belong to different images), each the whole B
   * columns wide, instead of TP consecutive pixels of one row. Column validity is then static.
   */
  RT?: number;
  /**
   * Shared weights (see `sharedWeights`): the workgroup is one subgroup of WG lanes, and control
   * flow stays uniform (no early return, no per-lane `continue`) so that subgroupShuffle is allowed.
   */
  shuffle?: boolean;
  /**
   * With `shuffle`: read the source through its vec4 view (`src_get4`), one per-lane load per 4
   * columns instead of one per column. Needs IW % 4 == 0 and tiles starting on a multiple of 4
   * columns (TP x scale % 4 == 0), so that a vec4 lies either wholly inside a source row or wholly
   * outside it.
   */
  vec4?: boolean;
  /**
   * Check source rows even where every tap lands inside (then the checks are dead): the residue
   * classes of a strided input gradient that differ only in that (one row tap inside, two taps
   * not) then share a pipeline. Costs a select per source load where the columns are unchecked.
   */
  checkRows?: boolean;
  /**
   * Store the results as vec4s (`out_set4`), four consecutive output columns each: only where the
   * destination columns are consecutive and start on multiples of 4 (stride-1 placement, tw = 1
   * and rw = 0, OW and the tile's columns multiples of 4; `dispatchGather` decides). On lavapipe a
   * per-lane store is eight bounds-checked scalar stores; a quarter of them took ~15 % off a 3x3
   * forward's LLVM time (287 -> 243 ms).
   */
  vec4Store?: boolean;
  /**
   * Column taps per accumulator assignment (default 1): each accumulator takes the FMAs of up to
   * this many consecutive column taps as one nested chain, in tap order (the same sums in the same
   * order). On lavapipe every assignment to a loop-carried variable is a blend with the loop's
   * execution mask, and for these spilling register tiles a stack load and store too.
   */
  chain?: number;
}

const u = (n: number) => `${n}u`;
const comps = ['x', 'y', 'z', 'w'];
const i = (n: number) => `${n}i`;

/**
 * Weights of one reduction step that every lane needs (TO output channels x the taps along W):
 * on lavapipe every storage load in a loop is a per-lane load (8 scalar loads with bounds checks),
 * even at an address that is the same in all lanes. Here each lane loads a different one of
 * them, `ceil(TO * taps / lanes)` loads in all, and subgroupShuffle with a constant lane hands
 * them round (an extract and a broadcast). `base(o)` = weight offset of output channel o0 + o
 * (clamped) without tap and reduction offsets, `kwOf(t)` = the kernel column of tap t.
 */
function sharedWeights(TO: number, taps: number, lanes: number, base: (o: string) => string, kwOf: (t: string) => string) {
  const n = TO * taps;
  const loads = Math.ceil(n / lanes);
  const setup: string[] = [];
  for (let q = 0; q < loads; q++) {
    setup.push(`  let wv${q} = min(${u(q * lanes)} + lane, ${u(n - 1)});`);
    setup.push(`  let wq${q} = ${base(`wv${q} % ${u(TO)}`)} + ${kwOf(`wv${q} / ${u(TO)}`)};`);
  }
  return {
    setup,
    /** Loads for one reduction step; `off` = the tap row and reduction offset (same in all lanes). */
    load: (off: string) => Array.from({ length: loads }, (_, q) => `      let s${q} = w_get(wq${q} + ${off});`),
    get: (o: number, t: number) => `subgroupShuffle(s${Math.floor((t * TO + o) / lanes)}, ${u((t * TO + o) % lanes)})`,
  };
}

/**
 * A direct conv kernel's WGSL and the uniforms it reads. Every size that the kernel uses only as a loop
 * bound or an address term (batch, channels, map sizes, the row taps, the destination placement)
 * is a uniform, so convs of one structure share a pipeline: lavapipe compiles each pipeline with
 * LLVM at its first dispatch (~0.3-0.8 s for these kernels), and the first epoch pays that once
 * per distinct WGSL. What stays in the WGSL is what shapes the unrolled code: the register tile,
 * the column taps (count, offsets, stride), vec4 loads, which checks are needed, and for narrow
 * maps the static columns.
 */
export interface ConvKernelSource {
  wgsl: string;
  uniforms: Record<string, [ScalarType, number]>;
}

/**
 * The kernel with its uniforms written into the WGSL as constants: one pipeline per shape again,
 * as before the sizes became uniforms (`ConvTiles.bakeSizes`, to time the two against each other).
 */
export function bakeUniforms(k: ConvKernelSource): ConvKernelSource {
  const wgsl = k.wgsl.replace(/\bu\.(\w+)/g, (_, name: string) => {
    const [ty, v] = k.uniforms[name];
    return ty === 'f32' ? `f32(${v})` : `(${v}${ty === 'u32' ? 'u' : 'i'})`;
  });
  return { wgsl, uniforms: {} };
}

/** The same taps in ascending source-column order (an input gradient's taps run backwards). */
export function ascendingTaps(t: TapAxis): TapAxis {
  if (t.count < 2 || t.offStep >= 0) return t;
  const last = t.count - 1;
  return { count: t.count, k0: t.k0 + last * t.kStep, kStep: -t.kStep, off0: t.off0 + last * t.offStep, offStep: -t.offStep, scale: t.scale };
}

function gatherUniforms(s: GatherConvSpec, tiles: number, rows: number, v4: boolean): Record<string, [ScalarType, number]> {
  const IHW = s.IH * s.IW;
  const OHW = s.OH * s.OW;
  const H = s.tapsH;
  const W = s.tapsW;
  return {
    tiles: ['u32', tiles],
    rows: ['u32', rows],
    A: ['u32', s.A],
    BT: ['u32', Math.ceil(s.B / s.TP)],
    B: ['u32', s.B],
    R: ['u32', s.R],
    O: ['u32', s.O],
    TO: ['u32', s.TO],
    Og: ['u32', s.Og],
    IH: ['u32', s.IH],
    IW: ['u32', s.IW],
    xN: ['u32', s.groups * s.R * IHW],
    xG: ['u32', s.R * IHW],
    xR: ['u32', v4 ? IHW / 4 : IHW],
    wGroup: ['u32', s.wGroup],
    wO: ['u32', s.wO],
    wR: ['u32', s.wR],
    KW: ['u32', s.KW],
    hCount: ['u32', H.count],
    hK0: ['i32', H.k0],
    hKStep: ['i32', H.kStep],
    hOff0: ['i32', H.off0],
    hOffStep: ['i32', H.offStep],
    hScale: ['u32', H.scale],
    wK0: ['i32', W.k0],
    wKStep: ['i32', W.kStep],
    dN: ['u32', s.O * OHW],
    OHW: ['u32', OHW],
    OW: ['u32', s.OW],
    rh: ['u32', s.rh],
    rw: ['u32', s.rw],
    th: ['u32', s.th],
    tw: ['u32', s.tw],
  };
}

/**
 * Whether a gather kernel's reduction over R channels keeps its count in the WGSL, where LLVM
 * unrolls the loop: fewer than 8 channels (a network's first conv: 3). As a uniform the 7x7 conv1
 * forward took ~35 % longer.
 */
export function unrollsReduction(R: number): boolean {
  return R < 8;
}

/**
 * The tap-row loop's and reduction loop's uniforms, read once before the loops: lavapipe reloads
 * (and bounds-checks) a uniform read inside a loop on every iteration; see `unrollsReduction`.
 */
function loopUniforms(s: GatherConvSpec): string {
  const lets = ['hCount = u.hCount', 'hK0 = u.hK0', 'hKStep = u.hKStep', 'hOff0 = u.hOff0', 'hOffStep = u.hOffStep', 'ihN = i32(u.IH)', 'kwN = u.KW'];
  lets.push(`rN = ${unrollsReduction(s.R) ? u(s.R) : 'u.R'}`, 'xR = u.xR', 'wR = u.wR');
  return lets.map((l) => `  let ${l};`).join('\n');
}

/**
 * The stores of a TO-channel register tile in a loop over its channels: iteration o stores the
 * `cols` accumulators of channel 0, then shifts every channel's accumulators down by one, so the
 * store code is generated once per column instead of TO times. The bound (channels left in this
 * tile) reads TO from a uniform (`u.TO`): with TO written in, Mesa's loop analysis bounds the trip
 * count by it and unrolls the loop into TO x cols per-lane checked stores, which were half or
 * more of lavapipe's LLVM time for these kernels (ResNet-18 3x3 forwards ~450 -> ~150 ms). The
 * shifts rather than arrays indexed by o: with the accumulators copied into arrays, LLVM spilled
 * more in the main loop (512->512 3x3 @2 forward ~12 % slower; shifted, as fast as unrolled).
 * `acc(o, c)`: the accumulator (a `var`) of channel o, column c; `store(c)`: the statements for
 * column c, with its value in `v{c}` and the channel offset in `o`. With `store4(c, value)`
 * instead, one statement per four columns c .. c + 3 (`cols` a multiple of 4), `value` their vec4.
 */
function storeLoop(
  L: string[],
  TO: number,
  cols: number,
  acc: (o: number, c: number) => string,
  store: (c: number) => string,
  store4?: (c: number, value: string) => string,
): void {
  L.push('  for (var o = 0u; o < min(u.TO, u.O - o0); o++) {');
  for (let c = 0; c < cols; c++) {
    L.push(`    let v${c} = ${acc(0, c)};`);
    if (!store4) L.push(`    ${store(c)}`);
  }
  if (store4 && cols % 4 !== 0) throw new Error(`storeLoop: vec4 stores need a multiple of 4 columns, got ${cols}`);
  if (store4) for (let c = 0; c < cols; c += 4) L.push(`    ${store4(c, `vec4<f32>(${[0, 1, 2, 3].map((k) => `v${c + k}`).join(', ')})`)}`);
  for (let c = 0; c < cols; c++) for (let o = 0; o + 1 < TO; o++) L.push(`    ${acc(o, c)} = ${acc(o + 1, c)};`);
  L.push('  }');
}

/**
 * Stores the TO x TR x KW accumulators `c{o}_{r}_{kw}` of one kernel row `kh` of dw (lanes own
 * input channels r0.., `live` marks real lanes; `Rg` a WGSL expression). In a loop over the output
 * channels (`storeLoop`; the bound reads the uniforms TO and O): unrolled, the TO x TR x KW
 * checked stores were most of a pipeline's compile time.
 */
function storeKernelRow(L: string[], TO: number, TR: number, KW: number, KH: number, Rg: string): void {
  storeLoop(
    L,
    TO,
    TR * KW,
    (o, c) => `c${o}_${Math.floor(c / KW)}_${c % KW}`,
    (c) => {
      const r = Math.floor(c / KW);
      const kw = c % KW;
      return `if (live && r0 + ${u(r)} < ${Rg}) { out_set(((o0 + o) * ${Rg} + r0 + ${u(r)}) * ${u(KH * KW)} + u32(kh) * ${u(KW)} + ${u(kw)}, v${c}); }`;
    },
  );
}

/** Weight offset of output channel `o` (clamped) of group g, without tap and reduction offsets. */
function weightBase(s: GatherConvSpec, o: string): string {
  return s.groups === 1 ? `min(${o}, u.O - 1u) * u.wO` : `g * u.wGroup + (min(${o}, u.O - 1u) - g * u.Og) * u.wO`;
}

/** Kernel column of column tap `t` (a u32 expression). */
const tapColumn = (t: string) => `u32(u.wK0 + i32(${t}) * u.wKStep)`;

export function gatherConvWgsl(s: GatherConvSpec): ConvKernelSource {
  if (s.RT) return gatherConvRowsWgsl(s, s.RT);
  const { TO, TP } = s;
  const sh = !!s.shuffle;
  const BT = Math.ceil(s.B / TP);
  const H = s.tapsH;
  const W = s.tapsW;
  const offW = (t: number) => W.off0 + t * W.offStep;
  const hInside = !s.checkRows && axisInside(H, s.A, s.IH);
  // Including a row's tail tile.
  const wInside = axisInside(W, BT * TP, s.IW);
  // Distinct source columns (relative to the tile's first) that the TP pixels x W taps read.
  const cols = new Map<number, number>();
  for (let j = 0; j < TP; j++)
    for (let t = 0; t < W.count; t++) {
      const q = W.scale * j + offW(t);
      if (!cols.has(q)) cols.set(q, cols.size);
    }
  const colName = (q: number) => `x${cols.get(q)}`;
  const v4 = sh && !!s.vec4;
  // vec4 blocks (floor(q / 4)) that hold the columns.
  const blocks = new Map<number, number>();
  for (const q of cols.keys()) if (!blocks.has(Math.floor(q / 4))) blocks.set(Math.floor(q / 4), blocks.size);
  const L: string[] = [];
  // The batch size is a uniform (u.tiles = N * A * BT), so every batch size shares one pipeline.
  L.push(...gatherEntry(s.WG, sh));
  // tw = 1 (dispatchGather), and B, like TP, a multiple of 4: a tail tile ends on a whole vec4.
  const store4 = !!s.vec4Store && TP % 4 === 0 && s.B % 4 === 0;
  if (H.count === 0 || W.count === 0) L.push(keepInputsBound(store4));
  L.push(`  let o0 = wid.y * ${u(TO)};`);
  L.push(`  let g = ${s.groups === 1 ? '0u' : 'o0 / u.Og'};`);
  L.push('  let n = p / (u.A * u.BT);');
  L.push('  let a = (p / u.BT) % u.A;');
  L.push(`  let b0 = (p % u.BT) * ${u(TP)};`);
  L.push('  let xb = n * u.xN + g * u.xG;');
  L.push('  let ia = i32(a * u.hScale);');
  L.push(`  let ib = i32(b0 * ${u(W.scale)});`);
  L.push('  let iwidth = i32(u.IW);');
  const shared = sh && W.count > 0 && H.count > 0 ? sharedWeights(TO, W.count, s.WG, (o) => weightBase(s, `o0 + ${o}`), tapColumn) : null;
  for (let o = 0; o < TO; o++) {
    L.push(`  let oc${o} = min(o0 + ${u(o)}, u.O - 1u);`);
    if (!shared) L.push(`  let wb${o} = ${weightBase(s, `o0 + ${u(o)}`)};`);
  }
  if (shared) L.push(...shared.setup);
  else for (let t = 0; t < W.count; t++) L.push(`  let kwc${t} = ${tapColumn(`${t}u`)};`);
  for (let o = 0; o < TO; o++) {
    for (let j = 0; j < TP; j++) L.push(`  var c${o}_${j} = ${s.bias ? `bias_get(oc${o})` : '0.0'};`);
  }
  if (v4) {
    for (const [qb, b] of blocks) {
      L.push(`  let cb${b} = ib + ${i(4 * qb)};`);
      if (!wInside) L.push(`  let okb${b} = cb${b} >= 0i && cb${b} < iwidth;`);
    }
  } else {
    for (const [q, k] of cols) {
      L.push(`  let col${k} = ib + ${i(q)};`);
      if (!wInside) L.push(`  let ok${k} = col${k} >= 0i && col${k} < iwidth;`);
    }
  }
  L.push(loopUniforms(s));
  L.push('  for (var th = 0u; th < hCount; th++) {');
  L.push('    let kh = u32(hK0 + i32(th) * hKStep);');
  L.push('    let ih = ia + hOff0 + i32(th) * hOffStep;');
  // Validity of each source column in this row: with shared weights an out-of-range row is not
  // skipped (that would be a per-lane branch) but read as zeros.
  const okRow = sh && !hInside;
  const okCol = (k: number) => (okRow ? (wInside ? 'okh' : `okh && ok${k}`) : wInside ? null : `ok${k}`);
  if (okRow) {
    L.push('    let okh = ih >= 0i && ih < ihN;');
  } else if (!hInside) {
    L.push('    if (ih < 0i || ih >= ihN) { continue; }');
  }
  L.push('    let row = i32(xb) + ih * iwidth;');
  const okBlock = (b: number) => (okRow ? (wInside ? 'okh' : `okh && okb${b}`) : wInside ? null : `okb${b}`);
  if (v4) {
    for (const [, b] of blocks) {
      const ok = okBlock(b);
      if (ok) L.push(`    let okv${b} = ${ok};`);
      L.push(`    let offb${b} = ${ok ? `select(0u, u32(max(row + cb${b}, 0i)) / 4u, okv${b})` : `u32(row + cb${b}) / 4u`};`);
    }
  } else
    for (const [, k] of cols) {
      const ok = okCol(k);
      if (okRow) L.push(`    let okc${k} = ${ok};`);
      L.push(`    let off${k} = ${ok ? `select(0u, u32(row + col${k}), ${okRow ? `okc${k}` : ok})` : `u32(row + col${k})`};`);
    }
  if (shared) L.push('    let khw = kh * kwN;');
  else for (let o = 0; o < TO; o++) L.push(`    let w${o}row = wb${o} + kh * kwN;`);
  L.push('    for (var r = 0u; r < rN; r++) {');
  L.push('      let xr = r * xR;');
  L.push('      let wr = r * wR;');
  if (v4) {
    for (const [, b] of blocks) {
      const load = `src_get4(offb${b} + xr)`;
      L.push(`      let v${b} = ${okBlock(b) ? `select(vec4<f32>(0.0), ${load}, okv${b})` : load};`);
    }
    for (const [q, k] of cols) L.push(`      let x${k} = v${blocks.get(Math.floor(q / 4))}.${comps[q - 4 * Math.floor(q / 4)]};`);
  } else {
    for (const [, k] of cols) {
      const load = `src_get(off${k} + xr)`;
      const ok = okCol(k);
      L.push(`      let x${k} = ${ok ? `select(0.0, ${load}, ${okRow ? `okc${k}` : ok})` : load};`);
    }
  }
  if (shared) L.push(...shared.load('khw + wr'));
  for (const taps of tapGroups(W.count, s.chain)) {
    for (const t of taps) for (let o = 0; o < TO; o++) L.push(`      let w${o}_${t} = ${shared ? shared.get(o, t) : `w_get(w${o}row + wr + kwc${t})`};`);
    for (let o = 0; o < TO; o++) {
      for (let j = 0; j < TP; j++)
        L.push(
          fmaChain(
            `c${o}_${j}`,
            taps.map((t) => [`w${o}_${t}`, colName(W.scale * j + offW(t))]),
          ),
        );
    }
  }
  L.push('    }');
  L.push('  }');
  L.push('  let d = n * u.dN + (u.rh + a * u.th) * u.OW + u.rw;');
  // Output element of the tile's column j; vec4 stores leave out the column stride (tw is 1 there).
  const at = (j: number, tw = true) => `d + (o0 + o) * u.OHW + ${tw ? `(b0 + ${u(j)}) * u.tw` : `b0 + ${u(j)}`}`;
  const guarded = (j: number, st: string) => {
    const guards = [];
    if (sh) guards.push('live');
    if (s.B % TP !== 0) guards.push(`b0 + ${u(j)} < u.B`);
    return guards.length ? `if (${guards.join(' && ')}) { ${st} }` : st;
  };
  storeLoop(
    L,
    TO,
    TP,
    (o, j) => `c${o}_${j}`,
    (j) => guarded(j, `out_set(${at(j)}, v${j});`),
    store4 ? (j, v) => guarded(j, `out_set4((${at(j, false)}) / 4u, ${v});`) : undefined,
  );
  L.push('}');
  return { wgsl: L.join('\n') + '\n', uniforms: gatherUniforms(s, s.N * s.A * BT, s.N * s.A, v4) };
}

/**
 * Keeps both inputs bound where no tap reaches the sub-grid (the kernel then writes zeros):
 * bindings the body never names are dropped from the 'auto' layout. Through `out_set4` where the
 * stores are vec4s, since a written tensor has one view.
 */
function keepInputsBound(vec4Store: boolean): string {
  const v = 'src_get(0u) + w_get(0u)';
  return `  if (p == 4294967295u) { ${vec4Store ? `out_set4(0u, vec4<f32>(${v}))` : `out_set(0u, ${v})`}; }`;
}

/** Column taps 0..count-1 in consecutive groups of `chain` (at least 1). */
function tapGroups(count: number, chain = 1): number[][] {
  const size = Math.max(1, chain);
  const groups: number[][] = [];
  for (let t0 = 0; t0 < count; t0 += size) groups.push(Array.from({ length: Math.min(size, count - t0) }, (_, k) => t0 + k));
  return groups;
}

/** `acc` assigned the terms' FMAs in order (`fmaNest`), in the gather loop's indent. */
function fmaChain(acc: string, terms: [string, string][]): string {
  return `      ${acc} = ${fmaNest(acc, terms)};`;
}

/**
 * `acc = fma(a, b, acc)` statements, each accumulator's in the order given, as chains of up to
 * `chain` FMAs per assignment (1: the statements as they are).
 */
function chainedFmas(L: string[], indent: string, fmas: [acc: string, a: string, b: string][], chain = 1): void {
  if (chain <= 1) {
    for (const [acc, a, b] of fmas) L.push(`${indent}${acc} = fma(${a}, ${b}, ${acc});`);
    return;
  }
  const byAcc = new Map<string, [string, string][]>();
  for (const [acc, a, b] of fmas) {
    const terms = byAcc.get(acc);
    if (terms) terms.push([a, b]);
    else byAcc.set(acc, [[a, b]]);
  }
  for (const [acc, terms] of byAcc) for (let k = 0; k < terms.length; k += chain) L.push(`${indent}${acc} = ${fmaNest(acc, terms.slice(k, k + chain))};`);
}

/** Whether every tap of every one of `n` computed coordinates lands inside [0, size). */
function axisInside(t: TapAxis, n: number, size: number): boolean {
  if (t.count === 0) return true;
  const lo = Math.min(t.off0, t.off0 + (t.count - 1) * t.offStep);
  const hi = Math.max(t.off0, t.off0 + (t.count - 1) * t.offStep) + t.scale * (n - 1);
  return lo >= 0 && hi < size;
}

/**
 * The multi-row variant of `gatherConvWgsl` for narrow sub-grids (ResNet layer3/4 at small
 * inputs: 4- and 2-pixel rows). An invocation owns TO output channels x RT rows x all B columns;
 * rows are consecutive in the flattened (n, a) index, so a tile may span images. Columns are
 * static (0..B-1, source width IW in the WGSL), so padded columns are dropped at generation time;
 * only rows are checked.
 */
function gatherConvRowsWgsl(s: GatherConvSpec, RT: number): ConvKernelSource {
  const { TO, B } = s;
  const H = s.tapsH;
  const W = s.tapsW;
  const hInside = !s.checkRows && axisInside(H, s.A, s.IH);
  const offW = (t: number) => W.off0 + t * W.offStep;
  // Distinct in-range source columns the B pixels x W taps read.
  const cols = new Map<number, number>();
  for (let j = 0; j < B; j++)
    for (let t = 0; t < W.count; t++) {
      const q = W.scale * j + offW(t);
      if (q >= 0 && q < s.IW && !cols.has(q)) cols.set(q, cols.size);
    }
  const sh = !!s.shuffle;
  // vec4 view (rows a multiple of 4 wide): one load per 4 of a row's static columns.
  const v4 = sh && !!s.vec4 && s.IW % 4 === 0;
  const L: string[] = [];
  // u.rows = N * A and u.tiles = ceil(u.rows / RT): uniforms, so batch sizes share the pipeline.
  L.push(...gatherEntry(s.WG, sh));
  // tw = 1 (dispatchGather) and B a multiple of 4: row k's B columns are B / 4 whole vec4s.
  const store4 = !!s.vec4Store && B % 4 === 0;
  if (H.count === 0 || cols.size === 0) L.push(keepInputsBound(store4));
  L.push(`  let o0 = wid.y * ${u(TO)};`);
  L.push(`  let g = ${s.groups === 1 ? '0u' : 'o0 / u.Og'};`);
  for (let k = 0; k < RT; k++) {
    L.push(`  let rr${k} = min(p * ${u(RT)} + ${u(k)}, u.rows - 1u);`);
    L.push(`  let n${k} = rr${k} / u.A;`);
    L.push(`  let a${k} = rr${k} % u.A;`);
    L.push(`  let xb${k} = i32(n${k} * u.xN + g * u.xG);`);
    L.push(`  let ia${k} = i32(a${k} * u.hScale);`);
  }
  const shared = sh && H.count > 0 && cols.size > 0 ? sharedWeights(TO, W.count, s.WG, (o) => weightBase(s, `o0 + ${o}`), tapColumn) : null;
  for (let o = 0; o < TO; o++) {
    L.push(`  let oc${o} = min(o0 + ${u(o)}, u.O - 1u);`);
    if (!shared) L.push(`  let wb${o} = ${weightBase(s, `o0 + ${u(o)}`)};`);
  }
  if (shared) L.push(...shared.setup);
  else for (let t = 0; t < W.count; t++) L.push(`  let kwc${t} = ${tapColumn(`${t}u`)};`);
  for (let o = 0; o < TO; o++) {
    for (let k = 0; k < RT; k++) for (let j = 0; j < B; j++) L.push(`  var c${o}_${k}_${j} = ${s.bias ? `bias_get(oc${o})` : '0.0'};`);
  }
  L.push(loopUniforms(s));
  L.push('  for (var th = 0u; th < hCount; th++) {');
  L.push('    let kh = u32(hK0 + i32(th) * hKStep);');
  for (let k = 0; k < RT; k++) {
    L.push(`    let ih${k} = ia${k} + hOff0 + i32(th) * hOffStep;`);
    if (hInside) {
      L.push(`    let row${k} = u32(xb${k} + ih${k} * ${i(s.IW)});`);
    } else {
      L.push(`    let ok${k} = ih${k} >= 0i && ih${k} < ihN;`);
      L.push(`    let row${k} = select(0u, u32(xb${k} + ih${k} * ${i(s.IW)}), ok${k});`);
    }
  }
  // With shared weights the lanes keep in step (no per-lane skip); out-of-range rows read zeros.
  if (!hInside && !sh) L.push(`    if (!(${Array.from({ length: RT }, (_, k) => `ok${k}`).join(' || ')})) { continue; }`);
  if (shared) L.push('    let khw = kh * kwN;');
  else for (let o = 0; o < TO; o++) L.push(`    let w${o}row = wb${o} + kh * kwN;`);
  L.push('    for (var r = 0u; r < rN; r++) {');
  L.push('      let xr = r * xR;');
  L.push('      let wr = r * wR;');
  for (let k = 0; k < RT; k++) {
    if (v4) {
      const qbs = [...new Set([...cols.keys()].map((q) => Math.floor(q / 4)))];
      for (const qb of qbs) {
        const load = `src_get4(row${k} / 4u + xr + ${u(qb)})`;
        L.push(`      let v${k}_${qb} = ${hInside ? load : `select(vec4<f32>(0.0), ${load}, ok${k})`};`);
      }
      for (const [q, c] of cols) L.push(`      let x${k}_${c} = v${k}_${Math.floor(q / 4)}.${comps[q % 4]};`);
      continue;
    }
    for (const [q, c] of cols) {
      const load = `src_get(row${k} + xr + ${u(q)})`;
      L.push(`      let x${k}_${c} = ${hInside ? load : `select(0.0, ${load}, ok${k})`};`);
    }
  }
  if (shared) L.push(...shared.load('khw + wr'));
  // Taps whose columns all fall outside the source (padding) are dropped, so are their weights.
  const live = Array.from({ length: W.count }, (_, t) => t).filter((t) => Array.from({ length: B }, (_, j) => cols.has(W.scale * j + offW(t))).some(Boolean));
  for (const group of tapGroups(live.length, s.chain)) {
    const taps = group.map((g) => live[g]);
    for (const t of taps) for (let o = 0; o < TO; o++) L.push(`      let w${o}_${t} = ${shared ? shared.get(o, t) : `w_get(w${o}row + wr + kwc${t})`};`);
    for (let o = 0; o < TO; o++) {
      for (let k = 0; k < RT; k++) {
        for (let j = 0; j < B; j++) {
          const terms = taps
            .filter((t) => cols.has(W.scale * j + offW(t)))
            .map((t): [string, string] => [`w${o}_${t}`, `x${k}_${cols.get(W.scale * j + offW(t))}`]);
          if (terms.length > 0) L.push(fmaChain(`c${o}_${k}_${j}`, terms));
        }
      }
    }
  }
  L.push('    }');
  L.push('  }');
  for (let k = 0; k < RT; k++) L.push(`  let d${k} = n${k} * u.dN + (u.rh + a${k} * u.th) * u.OW + u.rw;`);
  // Output element of store column q (row k = q / B, column j = q % B); vec4 stores leave out
  // the column stride (tw is 1 there).
  const at = (q: number, tw = true) => {
    const j = q % B;
    return `d${Math.floor(q / B)} + (o0 + o) * u.OHW${j > 0 ? ` + ${u(j)}${tw ? ' * u.tw' : ''}` : ''}`;
  };
  const guarded = (k: number, st: string) => {
    const guards = [];
    if (sh) guards.push('live');
    if (k > 0) guards.push(`p * ${u(RT)} + ${u(k)} < u.rows`);
    return guards.length ? `if (${guards.join(' && ')}) { ${st} }` : st;
  };
  storeLoop(
    L,
    TO,
    RT * B,
    (o, q) => `c${o}_${Math.floor(q / B)}_${q % B}`,
    (q) => guarded(Math.floor(q / B), `out_set(${at(q)}, v${q});`),
    store4 ? (q, v) => guarded(Math.floor(q / B), `out_set4((${at(q, false)}) / 4u, ${v});`) : undefined,
  );
  L.push('}');
  const rows = s.N * s.A;
  return { wgsl: L.join('\n') + '\n', uniforms: gatherUniforms(s, Math.ceil(rows / RT), rows, v4) };
}

/**
 * Entry point and tile index `p` of the gather kernels (tiles counted by the uniform u.tiles). With
 * shuffles no lane returns early (subgroupShuffle needs uniform control flow): spare lanes redo
 * the last tile, with `live` false.
 */
function gatherEntry(wg: number, shuffle: boolean): string[] {
  return [
    `@compute @workgroup_size(${wg}, 1, 1)`,
    `fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>${shuffle ? ', @builtin(local_invocation_index) lane: u32' : ''}) {`,
    ...(shuffle ? ['  let live = gid.x < u.tiles;', '  let p = min(gid.x, u.tiles - 1u);'] : ['  let p = gid.x;', '  if (p >= u.tiles) { return; }']),
  ];
}

export interface WeightGradSpec extends Omit<ConvGeometry, 'groups'> {
  /** Input channels per group (the dw's second dim), output channels per group. */
  Rg: number;
  Og: number;
  TO: number;
  TR: number;
  WG: number;
  /**
   * Splits of the N*OH output rows (split-K), each written as a partial [S, O, Rg, KH, KW] that a
   * second pass sums: 'strided' = split s takes the rows with row % S == s (spare SIMD lanes of a
   * few-channel conv on a CPU adapter); 'chunked' = split s takes the contiguous rows
   * [s*CR, min((s+1)*CR, N*OH)) (fills a GPU: more independent invocations, short serial loops).
   */
  S: number;
  splitMode?: 'strided' | 'chunked';
  /** Rows per chunk ('chunked' only). */
  CR?: number;
  /**
   * Row-tap kernel: the distance between x's and dy's channel planes where they are padded copies
   * (`padPlanes`); default H·W and OH·OW. The kernel reads them as uniforms, so its WGSL is the same.
   */
  planeStrides?: { x: number; dy: number };
  /**
   * Row-tap kernel: output columns per loop iteration (OW a multiple; default 1). On lavapipe
   * every loop-carried assignment is blended with the loop's execution mask, so with one column
   * per iteration each FMA came with a blend; with U columns each accumulator takes a chain of U
   * FMAs per assignment.
   */
  cols?: number;
  /**
   * Whole-row kernels: up to this many FMAs per accumulator assignment (default 1), chained in the
   * order the row's (column, tap) pairs add them, so the sums are the same bit for bit.
   */
  chain?: number;
  /**
   * Shared dy (S = 1 only): WG is one subgroup; lane l loads the dy of output channel o0 + l
   * (mod TO) at each pixel and subgroupShuffle hands the TO values round, instead of every lane
   * loading all TO (per-lane loads on lavapipe, see `sharedWeights`).
   */
  shuffle?: boolean;
}

export function convWeightGradWgsl(s: WeightGradSpec): ConvKernelSource {
  const { TO, TR } = s;
  const KK = s.KH * s.KW;
  const sh = !!s.shuffle && s.S === 1;
  const L: string[] = [];
  L.push(`@compute @workgroup_size(${s.WG}, 1, 1)`);
  L.push(
    `fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>${sh ? ', @builtin(local_invocation_index) lane: u32' : ''}) {`,
  );
  // Tap and output-channel tile come from the workgroup id: dy addresses and loop bounds are then
  // the same in all lanes; lanes differ only in input channels. Sizes are uniforms (see
  // ConvKernelSource): one pipeline per kernel size, stride, padding, dilation and tile.
  if (sh) {
    // No early return (subgroupShuffle needs uniform control flow): spare lanes redo the last tile.
    L.push('  let live = gid.x < u.rTiles;');
    L.push('  let rt = min(gid.x, u.rTiles - 1u);');
    L.push('  let split = 0u;');
  } else {
    L.push('  let rt = gid.x % u.rTiles;');
    L.push('  let split = gid.x / u.rTiles;');
    L.push(`  if (split >= ${u(s.S)}) { return; }`);
  }
  L.push(`  let tap = wid.z;`);
  L.push(`  let kh = i32(tap / ${u(s.KW)});`);
  L.push(`  let kw = i32(tap % ${u(s.KW)});`);
  L.push(`  let o0 = wid.y * ${u(TO)};`);
  L.push(`  let r0 = rt * ${u(TR)};`);
  L.push(`  let g = ${s.Og === s.O ? '0u' : 'o0 / u.Og'};`);
  // Valid output rows/cols: 0 <= o*s - p + k*d < size.
  const range = (k: string, st: number, p: number, d: number, size: string, outSize: string, name: string) => {
    L.push(`  let ${name}c = ${i(p)} - ${k} * ${i(d)};`);
    // ceil(c / st) for possibly negative c, clipped at 0
    L.push(`  let ${name}lo = u32(max(0i, select(${name}c / ${i(st)}, (${name}c + ${i(st - 1)}) / ${i(st)}, ${name}c > 0i)));`);
    L.push(`  let ${name}hiC = i32(${size}) - 1i + ${name}c;`);
    L.push(`  let ${name}hi = select(0u, min(${outSize}, u32(${name}hiC / ${i(st)}) + 1u), ${name}hiC >= 0i);`);
  };
  range('kh', s.sh, s.ph, s.dh, 'u.H', 'u.OH', 'y');
  range('kw', s.sw, s.pw, s.dw, 'u.W', 'u.OW', 'x');
  L.push(`  let offh = kh * ${i(s.dh)} - ${i(s.ph)};`);
  L.push(`  let offw = kw * ${i(s.dw)} - ${i(s.pw)};`);
  for (let o = 0; o < TO; o++) L.push(`  let oc${o} = min(o0 + ${u(o)}, u.O - 1u);`);
  for (let r = 0; r < TR; r++) L.push(`  let rc${r} = min(r0 + ${u(r)}, u.Rg - 1u);`);
  for (let o = 0; o < TO; o++) for (let r = 0; r < TR; r++) L.push(`  var c${o}_${r} = 0.0;`);
  const chunked = s.S > 1 && s.splitMode === 'chunked';
  if (chunked) {
    // Contiguous rows [R0, R1) of the N*OH rows: images n0..n1, each clipped to the chunk.
    // Chunk length and row count are uniforms (u.CR, u.rows), so batch sizes share the pipeline.
    L.push('  let R0 = split * u.CR;');
    L.push('  let R1 = min(R0 + u.CR, u.rows);');
    L.push('  let n1 = (R1 + u.OH - 1u) / u.OH;');
    L.push('  for (var n = R0 / u.OH; n < n1; n++) {');
    L.push('    let nb = n * u.OH;');
    L.push(`    let clo = max(ylo, select(0u, R0 - nb, R0 > nb));`);
    L.push(`    let chi = min(yhi, R1 - nb);`);
  } else {
    // S > 1: rows n*OH + oh with (row % S) == split; n loops, oh steps by S from the first such row.
    L.push('  for (var n = 0u; n < u.N; n++) {');
  }
  const dyLoads = Math.ceil(TO / s.WG);
  if (sh) {
    for (let q = 0; q < dyLoads; q++) L.push(`    let dyq${q} = n * u.dyN + min(o0 + ${u(q * s.WG)} + lane % ${u(TO)}, u.O - 1u) * u.OHW;`);
  } else {
    for (let o = 0; o < TO; o++) L.push(`    let dyb${o} = n * u.dyN + oc${o} * u.OHW;`);
  }
  for (let r = 0; r < TR; r++) L.push(`    let xb${r} = n * u.xN + (g * u.Rg + rc${r}) * u.HW;`);
  if (chunked) {
    L.push('    for (var oh = clo; oh < chi; oh++) {');
  } else if (s.S === 1) {
    L.push('    for (var oh = ylo; oh < yhi; oh++) {');
  } else {
    L.push(`    let first = (split + ${u(s.S)} - (n * u.OH + ylo) % ${u(s.S)}) % ${u(s.S)};`);
    L.push(`    for (var oh = ylo + first; oh < yhi; oh += ${u(s.S)}) {`);
  }
  L.push(`      let ih = u32(i32(oh * ${u(s.sh)}) + offh);`);
  L.push('      let dyrow = oh * u.OW;');
  L.push('      let xrow = ih * u.W;');
  L.push('      for (var ow = xlo; ow < xhi; ow++) {');
  L.push(`        let iw = u32(i32(ow * ${u(s.sw)}) + offw);`);
  if (sh) {
    for (let q = 0; q < dyLoads; q++) L.push(`        let sd${q} = dy_get(dyq${q} + dyrow + ow);`);
    for (let o = 0; o < TO; o++) L.push(`        let d${o} = subgroupShuffle(sd${Math.floor(o / s.WG)}, ${u(o % s.WG)});`);
  } else {
    for (let o = 0; o < TO; o++) L.push(`        let d${o} = dy_get(dyb${o} + dyrow + ow);`);
  }
  for (let r = 0; r < TR; r++) L.push(`        let x${r} = x_get(xb${r} + xrow + iw);`);
  for (let o = 0; o < TO; o++) for (let r = 0; r < TR; r++) L.push(`        c${o}_${r} = fma(d${o}, x${r}, c${o}_${r});`);
  L.push('      }');
  L.push('    }');
  L.push('  }');
  storeLoop(
    L,
    TO,
    TR,
    (o, r) => `c${o}_${r}`,
    (r) => `if (${sh ? 'live && ' : ''}r0 + ${u(r)} < u.Rg) { out_set(split * u.dwS + ((o0 + o) * u.Rg + rc${r}) * ${u(KK)} + tap, v${r}); }`,
  );
  L.push('}');
  return { wgsl: L.join('\n') + '\n', uniforms: weightGradUniforms(s) };
}

/** The sizes the weight-gradient kernels take as uniforms (see ConvKernelSource). */
function weightGradUniforms(s: WeightGradSpec): Record<string, [ScalarType, number]> {
  const HW = s.planeStrides?.x ?? s.H * s.W;
  const OHW = s.planeStrides?.dy ?? s.OH * s.OW;
  return {
    N: ['u32', s.N],
    CR: ['u32', s.CR ?? s.N * s.OH],
    rows: ['u32', s.N * s.OH],
    rTiles: ['u32', Math.ceil(s.Rg / s.TR)],
    O: ['u32', s.O],
    TO: ['u32', s.TO],
    Og: ['u32', s.Og],
    Rg: ['u32', s.Rg],
    H: ['u32', s.H],
    W: ['u32', s.W],
    OH: ['u32', s.OH],
    OW: ['u32', s.OW],
    HW: ['u32', HW],
    OHW: ['u32', OHW],
    xN: ['u32', s.C * HW],
    dyN: ['u32', s.O * OHW],
    dwS: ['u32', s.O * s.Rg * s.KH * s.KW],
  };
}

/**
 * Weight gradient of a conv of stride 1 or 2 (equal in both axes) on a CPU adapter with subgroups, one kernel row per
 * workgroup and every kernel column at once: an invocation owns kh, TO output channels x TR input
 * channels (lanes: input-channel tiles) x KW columns, and walks each output row keeping a
 * sliding window of the KW source columns it needs, so one x load per channel and pixel serves
 * all KW taps and each shared dy value TR x KW FMAs. The per-tap kernel loads x once per tap.
 */
export function convWeightGradRowTapsWgsl(s: WeightGradSpec): ConvKernelSource {
  const { TO, TR, KW } = s;
  const lanes = s.WG;
  const dyLoads = Math.ceil(TO / lanes);
  const L: string[] = [];
  L.push(`@compute @workgroup_size(${lanes}, 1, 1)`);
  L.push('fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {');
  // No early return (subgroupShuffle needs uniform control flow): spare lanes redo the last tile.
  L.push('  let live = gid.x < u.rTiles;');
  L.push(`  let r0 = min(gid.x, u.rTiles - 1u) * ${u(TR)};`);
  L.push('  let kh = i32(wid.z);');
  L.push(`  let o0 = wid.y * ${u(TO)};`);
  // Valid output rows: 0 <= oh * sh - ph + kh * dh < H.
  L.push(`  let yc = ${i(s.ph)} - kh * ${i(s.dh)};`);
  L.push(`  let ylo = u32(max(0i, select(yc / ${i(s.sh)}, (yc + ${i(s.sh - 1)}) / ${i(s.sh)}, yc > 0i)));`);
  L.push('  let yhiC = i32(u.H) - 1i + yc;');
  L.push(`  let yhi = select(0u, min(u.OH, u32(yhiC / ${i(s.sh)}) + 1u), yhiC >= 0i);`);
  L.push(`  let offh = kh * ${i(s.dh)} - ${i(s.ph)};`);
  L.push('  let Wi = i32(u.W);');
  for (let q = 0; q < dyLoads; q++) L.push(`  let dyo${q} = min(o0 + ${u(q * lanes)} + lane, u.O - 1u) * u.OHW;`);
  for (let r = 0; r < TR; r++) L.push(`  let xc${r} = min(r0 + ${u(r)}, u.Rg - 1u) * u.HW;`);
  for (let o = 0; o < TO; o++) for (let r = 0; r < TR; r++) for (let k = 0; k < KW; k++) L.push(`  var c${o}_${r}_${k} = 0.0;`);
  L.push('  for (var n = 0u; n < u.N; n++) {');
  L.push('    for (var oh = ylo; oh < yhi; oh++) {');
  L.push(`      let xrow = n * u.xN + u32(i32(oh * ${u(s.sh)}) + offh) * u.W;`);
  L.push('      let drow = n * u.dyN + oh * u.OW;');
  // Source column c of channel r, zero outside the row (the padding).
  const load = (r: number, col: string) => `select(0.0, x_get(xrow + xc${r} + u32(clamp(${col}, 0i, Wi - 1i))), ${col} >= 0i && ${col} < Wi)`;
  // An iteration takes output columns ow .. ow + U - 1, whose taps read the window xw_k, source
  // column ow * sw - pw + k (k < (U - 1) * sw + KW). Each iteration shifts it by U * sw: the
  // columns it keeps move down, the rest are loaded. Before the first iteration it holds what
  // column -U would have, so that the shift brings the kept ones in.
  const sw = s.sw;
  const U = s.cols ?? 1;
  const step = U * sw;
  const Wd = (U - 1) * sw + KW;
  for (let r = 0; r < TR; r++) for (let k = 0; k < Wd; k++) L.push(`      var xw${r}_${k} = ${k >= step ? load(r, `${i(k - step - s.pw)}`) : '0.0'};`);
  L.push(`      for (var ow = 0u; ow < u.OW; ow${U === 1 ? '++' : ` += ${u(U)}`}) {`);
  L.push(`        let c0 = i32(ow * ${u(sw)}) - ${i(s.pw)};`);
  for (let r = 0; r < TR; r++) {
    for (let k = 0; k + step < Wd; k++) L.push(`        xw${r}_${k} = xw${r}_${k + step};`);
    for (let k = Math.max(0, Wd - step); k < Wd; k++) L.push(`        xw${r}_${k} = ${load(r, `(c0 + ${i(k)})`)};`);
  }
  // Column j's names carry a suffix only where there are several (the WGSL of U = 1 is as before).
  const z = (j: number) => (U === 1 ? '' : `_${j}`);
  for (let j = 0; j < U; j++) for (let q = 0; q < dyLoads; q++) L.push(`        let sd${q}${z(j)} = dy_get(drow + dyo${q} + ow${j ? ` + ${u(j)}` : ''});`);
  for (let j = 0; j < U; j++)
    for (let o = 0; o < TO; o++) L.push(`        let d${o}${z(j)} = subgroupShuffle(sd${Math.floor(o / lanes)}${z(j)}, ${u(o % lanes)});`);
  for (let o = 0; o < TO; o++)
    for (let r = 0; r < TR; r++)
      for (let k = 0; k < KW; k++) {
        const acc = `c${o}_${r}_${k}`;
        L.push(
          `        ${acc} = ${fmaNest(
            acc,
            Array.from({ length: U }, (_, j): [string, string] => [`d${o}${z(j)}`, `xw${r}_${j * sw + k}`]),
          )};`,
        );
      }
  L.push('      }');
  L.push('    }');
  L.push('  }');
  storeKernelRow(L, TO, TR, KW, s.KH, 'u.Rg');
  L.push('}');
  return { wgsl: L.join('\n') + '\n', uniforms: weightGradUniforms(s) };
}

/**
 * The whole-row weight gradients' static (ow, kw) pairs whose source column iw lies inside the
 * row, the source columns they read and the output columns they use.
 */
function rowPairs(s: WeightGradSpec): { pairs: { ow: number; kw: number; iw: number }[]; cols: number[]; ows: number[] } {
  const pairs: { ow: number; kw: number; iw: number }[] = [];
  for (let ow = 0; ow < s.OW; ow++)
    for (let kw = 0; kw < s.KW; kw++) {
      const iw = ow * s.sw + kw * s.dw - s.pw;
      if (iw >= 0 && iw < s.W) pairs.push({ ow, kw, iw });
    }
  const cols = [...new Set(pairs.map((q) => q.iw))].sort((a, b) => a - b);
  const ows = [...new Set(pairs.map((q) => q.ow))].sort((a, b) => a - b);
  return { pairs, cols, ows };
}

/** The whole-row weight gradients' entry point and input-channel tile (lanes own tiles of TR input channels). */
function rowsKernelStart(lanes: number, rTiles: number, TR: number): string[] {
  return [
    `@compute @workgroup_size(${lanes}, 1, 1)`,
    'fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {',
    // No early return (subgroupShuffle needs uniform control flow): spare lanes redo the last tile.
    `  let live = gid.x < ${u(rTiles)};`,
    `  let r0 = min(gid.x, ${u(rTiles - 1)}) * ${u(TR)};`,
  ];
}

/**
 * Weight gradient for maps at most a few tiles wide (CPU adapter with subgroups): an invocation
 * owns one kernel row kh, TO output channels x TR input channels (lanes: input-channel tiles) and
 * every kernel column kw, and walks whole output rows, unrolled. Each source value it loads
 * serves every kw that reads it and each shared dy value every kw, so a row costs TR x (the
 * source columns) + OW x TO / lanes loads for TO x TR x (valid (ow, kw) pairs) FMAs; the per-tap
 * kernel loads TR + TO / lanes per pixel and tap. Which (ow, kw) pairs fall inside the source
 * row is known when the WGSL is generated (the columns are static), so there are no column
 * checks; rows are clipped per kh as in `convWeightGradWgsl`.
 */
export function convWeightGradRowsWgsl(s: WeightGradSpec): string {
  const { TO, TR, KW } = s;
  const lanes = s.WG;
  const rTiles = Math.ceil(s.Rg / TR);
  const HW = s.H * s.W;
  const OHW = s.OH * s.OW;
  const { pairs, cols, ows } = rowPairs(s);
  const dyLoads = Math.ceil(TO / lanes);
  const L = rowsKernelStart(lanes, rTiles, TR);
  L.push('  let kh = i32(wid.z);');
  L.push(`  let o0 = wid.y * ${u(TO)};`);
  L.push(`  let g = o0 / ${u(s.Og)};`);
  // Valid output rows: 0 <= oh*sh - ph + kh*dh < H.
  L.push(`  let yc = ${i(s.ph)} - kh * ${i(s.dh)};`);
  L.push(`  let ylo = u32(max(0i, select(yc / ${i(s.sh)}, (yc + ${i(s.sh - 1)}) / ${i(s.sh)}, yc > 0i)));`);
  L.push(`  let yhiC = ${i(s.H - 1)} + yc;`);
  L.push(`  let yhi = select(0u, min(${u(s.OH)}, u32(yhiC / ${i(s.sh)}) + 1u), yhiC >= 0i);`);
  L.push(`  let offh = kh * ${i(s.dh)} - ${i(s.ph)};`);
  for (let r = 0; r < TR; r++) L.push(`  let xc${r} = (g * ${u(s.Rg)} + min(r0 + ${u(r)}, ${u(s.Rg - 1)})) * ${u(HW)};`);
  for (let q = 0; q < dyLoads; q++) L.push(`  let sq${q} = min(o0 + ${u(q * lanes)} + lane % ${u(lanes)}, ${u(s.O - 1)}) * ${u(OHW)};`);
  for (let o = 0; o < TO; o++) for (let r = 0; r < TR; r++) for (let kw = 0; kw < KW; kw++) L.push(`  var c${o}_${r}_${kw} = 0.0;`);
  L.push('  for (var n = 0u; n < u.N; n++) {');
  L.push(`    let xn = n * ${u(s.C * HW)};`);
  L.push(`    let dn = n * ${u(s.O * OHW)};`);
  L.push('    for (var oh = ylo; oh < yhi; oh++) {');
  L.push(`      let xrow = xn + u32(i32(oh * ${u(s.sh)}) + offh) * ${u(s.W)};`);
  L.push(`      let drow = dn + oh * ${u(s.OW)};`);
  if (s.W % 4 === 0) {
    // Rows a multiple of 4 wide: one vec4 load per 4 columns (per-lane loads are the cost on lavapipe).
    const blocks = [...new Set(cols.map((iw) => Math.floor(iw / 4)))];
    for (let r = 0; r < TR; r++) {
      L.push(`      let xq${r} = (xrow + xc${r}) / 4u;`);
      for (const b of blocks) L.push(`      let xv${r}_${b} = x_get4(xq${r} + ${u(b)});`);
      for (const iw of cols) L.push(`      let x${r}_${iw} = xv${r}_${Math.floor(iw / 4)}.${comps[iw % 4]};`);
    }
  } else for (const iw of cols) for (let r = 0; r < TR; r++) L.push(`      let x${r}_${iw} = x_get(xrow + xc${r} + ${u(iw)});`);
  for (const ow of ows) {
    for (let q = 0; q < dyLoads; q++) L.push(`      let s${q}_${ow} = dy_get(drow + sq${q} + ${u(ow)});`);
    for (let o = 0; o < TO; o++) L.push(`      let d${o}_${ow} = subgroupShuffle(s${Math.floor(o / lanes)}_${ow}, ${u(o % lanes)});`);
  }
  const fmas: [string, string, string][] = [];
  for (const { ow, kw, iw } of pairs) for (let o = 0; o < TO; o++) for (let r = 0; r < TR; r++) fmas.push([`c${o}_${r}_${kw}`, `d${o}_${ow}`, `x${r}_${iw}`]);
  chainedFmas(L, '      ', fmas, s.chain);
  L.push('    }');
  L.push('  }');
  storeKernelRow(L, TO, TR, KW, s.KH, u(s.Rg));
  L.push('}');
  return L.join('\n') + '\n';
}

/** Output rows up to which convWeightGradRowsAllTapsWgsl unrolls its row loop. */
const maxStaticRows = 4;

/**
 * `convWeightGradRowsWgsl` with every kernel row in one invocation (groups 1; TR a multiple of 4
 * dividing C, so every tile's dw rows start on a vec4): on maps this small (2-4 px) the reduction is short and the TO x TR x KW checked
 * scalar stores per kernel row were a large share of the time (without them the 512->512 3x3 @2
 * weight gradient ran ~33 % faster). Holding all KH x KW taps, an invocation's outputs for one
 * output channel are TR x KH x KW consecutive floats of dw, stored as vec4s. Up to
 * `maxStaticRows` output rows the row loop is unrolled: the (oh, kh) pairs that would read padding
 * are left out, and each source row is loaded once per image. Taller maps walk the rows in a
 * loop, loading zeros for the padding.
 */
export function convWeightGradRowsAllTapsWgsl(s: WeightGradSpec): string {
  const { TO, TR, KW, KH } = s;
  const KK = KH * KW;
  if (TR % 4 !== 0 || s.Rg % TR !== 0 || s.Rg !== s.C) throw new Error('convWeightGradRowsAllTapsWgsl: needs groups 1 and TR a multiple of 4 dividing C');
  const lanes = s.WG;
  const rTiles = s.Rg / TR;
  const HW = s.H * s.W;
  const OHW = s.OH * s.OW;
  const { pairs, cols, ows } = rowPairs(s);
  const dyLoads = Math.ceil(TO / lanes);
  const L = rowsKernelStart(lanes, rTiles, TR);
  L.push(`  let o0 = wid.y * ${u(TO)};`);
  for (let r = 0; r < TR; r++) L.push(`  let xc${r} = (r0 + ${u(r)}) * ${u(HW)};`);
  for (let q = 0; q < dyLoads; q++) L.push(`  let sq${q} = min(o0 + ${u(q * lanes)} + lane % ${u(lanes)}, ${u(s.O - 1)}) * ${u(OHW)};`);
  const acc = (o: number, r: number, kh: number, kw: number) => `c${o}_${r}_${kh}_${kw}`;
  for (let o = 0; o < TO; o++)
    for (let r = 0; r < TR; r++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) L.push(`  var ${acc(o, r, kh, kw)} = 0.0;`);
  L.push('  for (var n = 0u; n < u.N; n++) {');
  L.push(`    let xn = n * ${u(s.C * HW)};`);
  L.push(`    let dn = n * ${u(s.O * OHW)};`);
  const blocks = [...new Set(cols.map((iw) => Math.floor(iw / 4)))];
  if (s.OH <= maxStaticRows) {
    // Few output rows: unrolled, so the (oh, kh) pairs that read padding are dropped here and each
    // source row is loaded once per image for every (oh, kh) that reads it.
    const uses: { oh: number; kh: number; ih: number }[] = [];
    for (let oh = 0; oh < s.OH; oh++)
      for (let kh = 0; kh < KH; kh++) {
        const ih = oh * s.sh - s.ph + kh * s.dh;
        if (ih >= 0 && ih < s.H) uses.push({ oh, kh, ih });
      }
    const x = (r: number, ih: number, iw: number) => `x${r}_${ih}_${iw}`;
    for (const ih of [...new Set(uses.map((q) => q.ih))]) {
      for (let r = 0; r < TR; r++) {
        if (s.W % 4 === 0) {
          for (const b of blocks) L.push(`    let xv${r}_${ih}_${b} = x_get4((xn + xc${r}) / 4u + ${u((ih * s.W) / 4 + b)});`);
          for (const iw of cols) L.push(`    let ${x(r, ih, iw)} = xv${r}_${ih}_${Math.floor(iw / 4)}.${comps[iw % 4]};`);
        } else for (const iw of cols) L.push(`    let ${x(r, ih, iw)} = x_get(xn + xc${r} + ${u(ih * s.W + iw)});`);
      }
    }
    for (const oh of [...new Set(uses.map((q) => q.oh))])
      for (const ow of ows) {
        for (let q = 0; q < dyLoads; q++) L.push(`    let s${q}_${oh}_${ow} = dy_get(dn + sq${q} + ${u(oh * s.OW + ow)});`);
        for (let o = 0; o < TO; o++) L.push(`    let d${o}_${oh}_${ow} = subgroupShuffle(s${Math.floor(o / lanes)}_${oh}_${ow}, ${u(o % lanes)});`);
      }
    const fmas: [string, string, string][] = [];
    for (const { oh, kh, ih } of uses)
      for (const { ow, kw, iw } of pairs)
        for (let o = 0; o < TO; o++) for (let r = 0; r < TR; r++) fmas.push([acc(o, r, kh, kw), `d${o}_${oh}_${ow}`, x(r, ih, iw)]);
    chainedFmas(L, '    ', fmas, s.chain);
    L.push('  }');
  } else {
    L.push(`    for (var oh = 0u; oh < ${u(s.OH)}; oh++) {`);
    L.push(`      let drow = dn + oh * ${u(s.OW)};`);
    for (const ow of ows) {
      for (let q = 0; q < dyLoads; q++) L.push(`      let s${q}_${ow} = dy_get(drow + sq${q} + ${u(ow)});`);
      for (let o = 0; o < TO; o++) L.push(`      let d${o}_${ow} = subgroupShuffle(s${Math.floor(o / lanes)}_${ow}, ${u(o % lanes)});`);
    }
    for (let kh = 0; kh < KH; kh++) {
      L.push(`      let ih${kh} = i32(oh * ${u(s.sh)}) + ${i(kh * s.dh - s.ph)};`);
      L.push(`      let in${kh} = ih${kh} >= 0i && ih${kh} < ${i(s.H)};`);
      L.push(`      let xrow${kh} = xn + u32(clamp(ih${kh}, 0i, ${i(s.H - 1)})) * ${u(s.W)};`);
      const x = (r: number, iw: number) => `x${r}_${kh}_${iw}`;
      if (s.W % 4 === 0) {
        for (let r = 0; r < TR; r++) {
          for (const b of blocks) L.push(`      let xv${r}_${kh}_${b} = select(vec4<f32>(0.0), x_get4((xrow${kh} + xc${r}) / 4u + ${u(b)}), in${kh});`);
          for (const iw of cols) L.push(`      let ${x(r, iw)} = xv${r}_${kh}_${Math.floor(iw / 4)}.${comps[iw % 4]};`);
        }
      } else for (const iw of cols) for (let r = 0; r < TR; r++) L.push(`      let ${x(r, iw)} = select(0.0, x_get(xrow${kh} + xc${r} + ${u(iw)}), in${kh});`);
      const fmas: [string, string, string][] = [];
      for (const { ow, kw, iw } of pairs) for (let o = 0; o < TO; o++) for (let r = 0; r < TR; r++) fmas.push([acc(o, r, kh, kw), `d${o}_${ow}`, x(r, iw)]);
      chainedFmas(L, '      ', fmas, s.chain);
    }
    L.push('    }');
    L.push('  }');
  }
  // Output channel o's TR x KK values are dw[(o0 + o) * Rg + r0 ..][..KK], consecutive: vec4s.
  storeLoop(
    L,
    TO,
    TR * KK,
    (o, c) => acc(o, Math.floor(c / KK), Math.floor((c % KK) / KW), c % KW),
    (c) =>
      c % 4 === 3
        ? `if (live) { out_set4(((o0 + o) * ${u(s.Rg / 4)} + r0 / 4u) * ${u(KK)} + ${u(Math.floor(c / 4))}, vec4<f32>(v${c - 3}, v${c - 2}, v${c - 1}, v${c})); }`
        : '',
  );
  L.push('}');
  return L.join('\n') + '\n';
}

export interface WeightGradTapsSpec {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  OH: number;
  OW: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  /** Output channels per invocation; lanes per workgroup (>= KH*KW). Rows per split (CR) come as a uniform. */
  TO: number;
  WG: number;
  /**
   * Shared dy: the TO dy values of a pixel are the same in every lane; lane l loads those of
   * channels o0 + l (mod 8), o0 + 8 + l, ... and subgroupShuffle hands them round (see
   * `sharedWeights`; needs subgroups of at least 8 lanes).
   */
  shuffle?: boolean;
  /** With `shuffle`, output rows a multiple of 4 wide: four columns per step, dy through its vec4 view. */
  vec4?: boolean;
}

/**
 * Weight gradient for few input channels (a network's first conv, groups = 1): lanes own taps,
 * not channels. Lane `tap` of workgroup (split, o-tile) keeps TO output channels x all C input
 * channels of its tap and streams every pixel of its split's CR rows; dy addresses are then the
 * same for all lanes (scalar loads on lavapipe), only the C x loads are per-lane gathers, and
 * taps that fall into the padding load a clamped address and use 0.
 */
export function convWeightGradTapsWgsl(s: WeightGradTapsSpec): string {
  const { TO, C } = s;
  const KK = s.KH * s.KW;
  const HW = s.H * s.W;
  const OHW = s.OH * s.OW;
  const sh = !!s.shuffle;
  const L: string[] = [];
  L.push(`@compute @workgroup_size(${s.WG}, 1, 1)`);
  L.push('fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {');
  if (sh) {
    // No early return (subgroupShuffle needs uniform control flow): spare lanes redo the last tap.
    L.push(`  let live = lid < ${u(KK)};`);
    L.push(`  let tap = min(lid, ${u(KK - 1)});`);
  } else {
    L.push('  let tap = lid;');
    L.push(`  if (tap >= ${u(KK)}) { return; }`);
  }
  L.push('  let split = wid.x;');
  L.push(`  let o0 = wid.y * ${u(TO)};`);
  L.push(`  let offh = i32(tap / ${u(s.KW)}) * ${i(s.dh)} - ${i(s.ph)};`);
  L.push(`  let offw = i32(tap % ${u(s.KW)}) * ${i(s.dw)} - ${i(s.pw)};`);
  for (let o = 0; o < TO; o++) L.push(`  let oc${o} = min(o0 + ${u(o)}, ${u(s.O - 1)});`);
  for (let o = 0; o < TO; o++) for (let r = 0; r < C; r++) L.push(`  var c${o}_${r} = 0.0;`);
  if (sh) for (let q = 0; q < Math.ceil(TO / 8); q++) L.push(`  let sq${q} = min(o0 + ${u(q * 8)} + lid % 8u, ${u(s.O - 1)}) * ${u(OHW)};`);
  // Rows per split and the row count are uniforms: batch sizes share the pipeline.
  L.push('  let R0 = split * u.CR;');
  L.push('  let R1 = min(R0 + u.CR, u.rows);');
  L.push('  for (var row = R0; row < R1; row++) {');
  L.push(`    let n = row / ${u(s.OH)};`);
  L.push(`    let oh = row % ${u(s.OH)};`);
  L.push(`    let ih = i32(oh * ${u(s.sh)}) + offh;`);
  L.push(`    let okh = ih >= 0i && ih < ${i(s.H)};`);
  L.push(`    let xrow = n * ${u(s.C * HW)} + u32(select(0i, ih, okh)) * ${u(s.W)};`);
  L.push(`    let dyrow = n * ${u(s.O * OHW)} + oh * ${u(s.OW)};`);
  if (sh && s.vec4 && s.OW % 4 === 0) {
    // Four output columns per step: each lane's shared dy load is one vec4 (dy rows a multiple
    // of 4 wide), a quarter of the per-lane dy loads; the x loads stay per column and tap.
    L.push(`    for (var ow = 0u; ow < ${u(s.OW)}; ow += 4u) {`);
    for (let q = 0; q < Math.ceil(TO / 8); q++) L.push(`      let sd${q} = dy_get4((dyrow + sq${q} + ow) / 4u);`);
    for (let j = 0; j < 4; j++) {
      L.push(`      let iw${j} = i32((ow + ${u(j)}) * ${u(s.sw)}) + offw;`);
      L.push(`      let ok${j} = okh && iw${j} >= 0i && iw${j} < ${i(s.W)};`);
      L.push(`      let xo${j} = xrow + u32(select(0i, iw${j}, ok${j}));`);
      for (let r = 0; r < C; r++) L.push(`      let x${r}_${j} = select(0.0, x_get(xo${j} + ${u(r * HW)}), ok${j});`);
    }
    for (let o = 0; o < TO; o++) {
      L.push(`      let d${o} = subgroupShuffle(sd${Math.floor(o / 8)}, ${u(o % 8)});`);
      for (let r = 0; r < C; r++) {
        const acc = `c${o}_${r}`;
        L.push(
          `      ${acc} = ${fmaNest(
            acc,
            comps.map((cj, j): [string, string] => [`d${o}.${cj}`, `x${r}_${j}`]),
          )};`,
        );
      }
    }
  } else {
    L.push(`    for (var ow = 0u; ow < ${u(s.OW)}; ow++) {`);
    L.push(`      let iw = i32(ow * ${u(s.sw)}) + offw;`);
    L.push(`      let ok = okh && iw >= 0i && iw < ${i(s.W)};`);
    L.push('      let xo = xrow + u32(select(0i, iw, ok));');
    if (sh) {
      const loads = Math.ceil(TO / 8);
      for (let q = 0; q < loads; q++) L.push(`      let sd${q} = dy_get(dyrow + sq${q} + ow);`);
      for (let o = 0; o < TO; o++) L.push(`      let d${o} = subgroupShuffle(sd${Math.floor(o / 8)}, ${u(o % 8)});`);
    } else {
      for (let o = 0; o < TO; o++) L.push(`      let d${o} = dy_get(dyrow + oc${o} * ${u(OHW)} + ow);`);
    }
    for (let r = 0; r < C; r++) L.push(`      let x${r} = select(0.0, x_get(xo + ${u(r * HW)}), ok);`);
    for (let o = 0; o < TO; o++) for (let r = 0; r < C; r++) L.push(`      c${o}_${r} = fma(d${o}, x${r}, c${o}_${r});`);
  }
  L.push('    }');
  L.push('  }');
  // Uniforms TO and O bound the store loop (`storeLoop`): unrolled, the TO x C per-lane checked
  // stores were most of this pipeline's LLVM time.
  storeLoop(
    L,
    TO,
    C,
    (o, r) => `c${o}_${r}`,
    (r) => {
      const st = `out_set(split * ${u(s.O * C * KK)} + ((o0 + o) * ${u(C)} + ${u(r)}) * ${u(KK)} + tap, v${r});`;
      return sh ? `if (live) { ${st} }` : st;
    },
  );
  L.push('}');
  return L.join('\n') + '\n';
}

/**
 * Sums the S partials [S, M] of a split-K reduction into [M], one invocation per output (in order:
 * deterministic). S and M are uniforms (u.S, u.M): one pipeline per workgroup size serves every
 * layer and product.
 */
export function sumPartialsWgsl(wg: number): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${wg}u + lid;
  if (i >= u.M) { return; }
  var acc = 0.0;
  for (var s = 0u; s < u.S; s++) { acc += part_get(s * u.M + i); }
  out_set(i, acc);
}
`;
}
