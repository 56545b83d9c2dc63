/**
 * Matmul kernel generators. Transposes, tile sizes and vec4 alignments are written into the source;
 * sizes are uniforms where that costs nothing (every size in the `shared` kernels; in the `lanes`
 * kernels those that are no operand's row stride, see `lanesWgsl`), so products of one structure
 * share a pipeline: a Linear layer's last partial batch and its evaluation batches reuse the
 * training step's kernels instead of compiling their own (on lavapipe 0.1-1 s of LLVM each).
 * Batched products keep their batch dims and strides written in (`batchOffset`).
 *
 * Two families, chosen per adapter (see matmul.ts):
 * - `lanes` (CPU adapters such as lavapipe, where one workgroup of 8 invocations is one SIMD
 *   vector): the rows of the workgroup's output tile are uniform, so their operand ("U") is read
 *   with uniform (scalar, broadcast) vec4 loads; each lane owns a few output columns whose operand
 *   ("V") it reads with per-lane vec4 loads — the expensive kind on lavapipe, amortised over
 *   4 k-steps x tu rows of FMAs. No workgroup memory, no barriers.
 * - `shared` (real GPUs): classic workgroup-shared tiles, each invocation a tm x tn register block.
 */

import { fmaNest } from '../../kernel/fma-chain.ts';
import type { ScalarType } from '../../kernel/run.ts';

export interface MatmulSpec {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  batches: number;
  batchDims: number[];
  /** Per output batch dim: element stride of A's and B's matrices (0 where broadcast). */
  aBatchStrides: number[];
  bBatchStrides: number[];
}

export interface LanesConfig {
  kind: 'lanes';
  /** Output rows per workgroup (uniform) and columns per lane. */
  tu: number;
  tv: number;
  /** Invocations per workgroup: the adapter's SIMD width (8 on lavapipe with 256-bit vectors). */
  lanes: number;
  /** k-steps unrolled per loop iteration (a multiple of 4). */
  kb: number;
  /** Which output axis the lanes run along: 'N' (U = A, V = B) or 'M' (U = Bᵀ, V = Aᵀ). */
  laneAxis: 'M' | 'N' | 'auto';
  /**
   * How the uniform rows' values arrive: 'uniform' = loads at one address for all lanes;
   * 'shuffle' = each lane loads a different one of `lanes` consecutive values (one load for
   * `lanes` k-steps or rows) and `subgroupShuffle` hands them round (needs the subgroups feature
   * and a subgroup of exactly `lanes`; kb becomes `lanes`).
   */
  uLoad?: 'uniform' | 'shuffle';
}

export interface SharedConfig {
  kind: 'shared';
  /** Outputs per invocation, invocations per workgroup along M and N, k-depth of a shared tile. */
  tm: number;
  tn: number;
  wgM: number;
  wgN: number;
  tk: number;
  /** Which outputs an invocation owns, see `sharedWgsl` (default 'strided'). */
  layout?: 'strided' | 'blocked';
  /** Split-K when the output tiles are fewer than this many workgroups (default 1024; 0 = never). */
  splitTarget?: number;
  /** Load the next K tile into registers before this tile's FMAs (global latency hidden behind them). */
  prefetch?: boolean;
}

export type MatmulConfig = LanesConfig | SharedConfig;

function batchOffset(name: string, dims: number[], strides: number[]): string {
  if (dims.length === 0 || strides.every((s) => s === 0)) return `fn ${name}(b: u32) -> u32 { return 0u; }\n`;
  const lines = [`fn ${name}(b: u32) -> u32 {`, '  var r = b;', '  var o = 0u;'];
  for (let d = dims.length - 1; d >= 0; d--) {
    if (strides[d] !== 0) lines.push(`  o += (r % ${dims[d]}u) * ${strides[d]}u;`);
    lines.push(`  r = r / ${dims[d]}u;`);
  }
  lines.push('  return o;', '}');
  return lines.join('\n') + '\n';
}

/** One operand seen as X[r, k] (r = its output axis), stored contiguous along k or along r. */
interface Operand {
  name: 'a' | 'b';
  R: number;
  /** R in the kernel: a uniform (u.M or u.N) or written in. */
  uR: string;
  kContig: boolean;
  /** The row stride in the kernel: K's expression where contiguous along k, else `uR`. */
  stride: string;
  base: string;
}

/** X[r, k]'s index. */
const idx = (o: Operand, r: string, k: string) => (o.kContig ? `${o.base} + (${r}) * ${o.stride} + ${k}` : `${o.base} + (${k}) * ${o.stride} + ${r}`);

/** K up to this is written into the `lanes` kernel (see there); a longer K that is no operand's row stride is a uniform. */
const bakedK = 32;

type Uniforms = Record<string, [ScalarType, number]>;

/** WGSL and the uniform values of one dispatch (the WGSL is shared by every shape of its structure). */
export interface MatmulKernel {
  wgsl: string;
  uniforms: Uniforms;
}

const u32 = (v: number): [ScalarType, number] => ['u32', v];

/**
 * Whether the product's output outweighs both operands 16 times over (a Linear layer's weight
 * gradient at small batch: VGG fc6's 4096 x 25088 from K = 8): its stores are the cost.
 */
export function outputBound(s: Pick<MatmulSpec, 'M' | 'N' | 'K'>): boolean {
  return s.M * s.N >= 16 * (s.M + s.N) * s.K;
}

/** The lane axis the `lanes` kernel uses for this problem. */
export function resolveLaneAxis(s: MatmulSpec, c: LanesConfig): 'M' | 'N' {
  if (c.laneAxis !== 'auto') return c.laneAxis;
  // Lanes along the axis whose operand is smaller: the big operand (e.g. a Linear weight, often
  // split into pages) then streams through uniform loads, whose page switch is uniform too.
  const aSize = s.M * s.K;
  const bSize = s.N * s.K;
  // Unless the output is the cost (`outputBound`): then lanes along N, whose stores are
  // consecutive vec4s, where along M every lane wrote its own row (fc6: 255 -> 191 ms on lavapipe).
  if (outputBound(s)) return 'N';
  if (s.M >= c.lanes * c.tv && aSize * 4 <= bSize) return 'M';
  return 'N';
}

/**
 * The `lanes` kernel. Sizes that are an operand's row stride are written in (a uniform there cost
 * 1024³ 10-15 % on lavapipe: the address arithmetic of every load), as is a K of at most `bakedK`
 * (the loops then unroll away: VGG16 fc6's weight gradient, K = the batch of 8, ran 1.8x slower
 * with K a uniform). The rest are uniforms: for a Linear layer the batch (M in the forward and
 * input gradient, K past 32 in the weight gradient) is never a stride, so other batch sizes share
 * the step's pipelines.
 */
export function lanesWgsl(s: MatmulSpec, c: LanesConfig): MatmulKernel {
  const axis = resolveLaneAxis(s, c);
  const kUniform = s.K > bakedK && s.transA && !s.transB;
  const Kx = kUniform ? 'u.K' : `${s.K}u`;
  const operand = (name: 'a' | 'b', R: number, uR: string, kContig: boolean): Operand => ({
    name,
    R,
    uR,
    kContig,
    stride: kContig ? Kx : uR,
    base: `${name}Base`,
  });
  const A = operand('a', s.M, s.transA ? `${s.M}u` : 'u.M', !s.transA);
  const B = operand('b', s.N, s.transB ? 'u.N' : `${s.N}u`, s.transB);
  const [U, V] = axis === 'N' ? [A, B] : [B, A];
  const { tu, tv, lanes } = c;
  const shuffle = c.uLoad === 'shuffle' && (U.kContig || tu % lanes === 0);
  const kb = shuffle ? lanes : Math.max(4, c.kb - (c.kb % 4));
  // vec4 loads need 16-byte alignment of every vector read.
  const UT = Math.ceil(U.R / tu);
  const VT = Math.ceil(V.R / (lanes * tv));
  const uVec = U.kContig ? s.K % 4 === 0 : U.R % 4 === 0 && tu % 4 === 0;
  const vVec = V.kContig ? s.K % 4 === 0 : V.R % 4 === 0 && tv % 4 === 0;
  const L: string[] = [];
  const p = (x: string) => L.push(x);
  // Columns of lane l: contiguous runs of 4 when V is contiguous along its row axis (vec4 along v).
  const vCol = (j: number) => (V.kContig || !vVec ? `v0 + ${j}u * ${lanes}u + lane` : `v0 + lane * ${tv}u + ${j}u`);
  for (let i = 0; i < tu; i++) p(`  let ur${i} = min(u0 + ${i}u, ${U.uR} - 1u);`);
  for (let j = 0; j < tv; j++) p(`  let vr${j} = min(${vCol(j)}, ${V.uR} - 1u);`);
  for (let i = 0; i < tu; i++) for (let j = 0; j < tv; j++) p(`  var c${i}_${j} = 0.0;`);
  const kMain = Math.floor(s.K / kb) * kb;
  // With lanes along N, each accumulator is assigned once per `steps` k-steps, its FMAs nested in
  // k order (the same sums in the same order, bit for bit): on lavapipe every assignment to a
  // loop-carried variable is a blend with the loop's execution mask, about a third of an FMA (see
  // conv/pointwise.wgsl.ts `fmaChain`). Against one FMA per assignment, alternating in one process
  // on lavapipe: 512 x 2048 x 512 (Bᵀ) 0.70-0.81x the time, 1024³ 0.70-1.05x, 256³ 0.67-1.08x; with
  // lanes along M (a Linear layer at small batch) VGG fc6's forward took 1.02-1.08x in four runs and
  // its input gradient 0.90-1.17x, so not there.
  const fmas = (uv: (i: number, kk: number) => string, vv: (j: number, kk: number) => string, steps: number) => {
    const chain = axis === 'N' ? steps : 1;
    for (let k0 = 0; k0 < steps; k0 += chain)
      for (let i = 0; i < tu; i++)
        for (let j = 0; j < tv; j++) {
          const terms = Array.from({ length: chain }, (_, d): [string, string] => [uv(i, k0 + d), vv(j, k0 + d)]);
          p(`    c${i}_${j} = ${fmaNest(`c${i}_${j}`, terms)};`);
        }
  };
  const comp = ['x', 'y', 'z', 'w'];
  // The main loop runs kb k-steps per iteration up to kMain (K rounded down to kb), the rest one by one.
  const kMainX = kUniform ? 'u.kMain' : `${kMain}u`;
  if (kUniform || kMain > 0) {
    p(`  for (var k = 0u; k < ${kMainX}; k += ${kb}u) {`);
    if (shuffle && U.kContig) {
      for (let i = 0; i < tu; i++) p(`    let s${i} = ${U.name}_get(${idx(U, `ur${i}`, 'k + lane')});`);
    } else if (shuffle) {
      for (let kk = 0; kk < lanes; kk++)
        for (let g = 0; g < tu / lanes; g++) p(`    let s${g}_${kk} = ${U.name}_get(${idx(U, `min(u0 + ${g * lanes}u + lane, ${U.uR} - 1u)`, `k + ${kk}u`)});`);
    }
    for (let q = 0; q < kb; q += 4) {
      // U: uniform loads (the same address in every lane), or shuffles of one load per lane.
      let uv: (i: number, kk: number) => string;
      if (shuffle && U.kContig) {
        uv = (i, kk) => `subgroupShuffle(s${i}, ${q + kk}u)`;
      } else if (shuffle) {
        uv = (i, kk) => `subgroupShuffle(s${Math.floor(i / lanes)}_${q + kk}, ${i % lanes}u)`;
      } else if (uVec && U.kContig) {
        for (let i = 0; i < tu; i++) p(`    let u${i}_${q} = ${U.name}_get4((${idx(U, `ur${i}`, `k + ${q}u`)}) >> 2u);`);
        uv = (i, kk) => `u${i}_${q}.${comp[kk]}`;
      } else if (uVec) {
        for (let kk = 0; kk < 4; kk++)
          for (let i = 0; i < tu; i += 4) p(`    let u${i}_${q + kk} = ${U.name}_get4((${idx(U, `min(u0 + ${i}u, ${U.uR} - 4u)`, `k + ${q + kk}u`)}) >> 2u);`);
        uv = (i, kk) => `u${i - (i % 4)}_${q + kk}.${comp[i % 4]}`;
      } else {
        for (let kk = 0; kk < 4; kk++) for (let i = 0; i < tu; i++) p(`    let u${i}_${q + kk} = ${U.name}_get(${idx(U, `ur${i}`, `k + ${q + kk}u`)});`);
        uv = (i, kk) => `u${i}_${q + kk}`;
      }
      // V: per-lane loads.
      let vv: (j: number, kk: number) => string;
      if (vVec && V.kContig) {
        for (let j = 0; j < tv; j++) p(`    let w${j}_${q} = ${V.name}_get4((${idx(V, `vr${j}`, `k + ${q}u`)}) >> 2u);`);
        vv = (j, kk) => `w${j}_${q}.${comp[kk]}`;
      } else if (vVec) {
        for (let kk = 0; kk < 4; kk++)
          for (let j = 0; j < tv; j += 4)
            p(`    let w${j}_${q + kk} = ${V.name}_get4((${idx(V, `min(v0 + lane * ${tv}u + ${j}u, ${V.uR} - 4u)`, `k + ${q + kk}u`)}) >> 2u);`);
        vv = (j, kk) => `w${j - (j % 4)}_${q + kk}.${comp[j % 4]}`;
      } else {
        for (let kk = 0; kk < 4; kk++) for (let j = 0; j < tv; j++) p(`    let w${j}_${q + kk} = ${V.name}_get(${idx(V, `vr${j}`, `k + ${q + kk}u`)});`);
        vv = (j, kk) => `w${j}_${q + kk}`;
      }
      fmas(uv, vv, 4);
    }
    p('  }');
  }
  if (kUniform || kMain < s.K) {
    p(`  for (var k = ${kMainX}; k < ${Kx}; k++) {`);
    for (let i = 0; i < tu; i++) p(`    let u${i} = ${U.name}_get(${idx(U, `ur${i}`, 'k')});`);
    for (let j = 0; j < tv; j++) p(`    let w${j} = ${V.name}_get(${idx(V, `vr${j}`, 'k')});`);
    fmas(
      (i) => `u${i}`,
      (j) => `w${j}`,
      1,
    );
    p('  }');
  }
  // A lane's tv output columns are consecutive (lanes along N, tv and N multiples of 4): vec4
  // stores, a quarter of the per-lane stores that dominate where K is small (a Linear layer's
  // weight gradient at small batch: VGG fc6's 4096 x 25088 from K = 8).
  const vec4Out = axis === 'N' && vVec && !V.kContig && tv % 4 === 0 && s.N % 4 === 0 && (s.M * s.N * s.batches) % 4 === 0;
  for (let i = 0; i < tu; i++) {
    if (vec4Out) {
      if (i === 0) p('  let vc = v0 + lane * ' + `${tv}u;`);
      for (let j = 0; j < tv; j += 4)
        p(
          `  if (u0 + ${i}u < ${U.uR} && vc + ${j}u < ${V.uR}) { out_set4((cBase + (u0 + ${i}u) * ${B.uR} + vc + ${j}u) / 4u, vec4<f32>(${[0, 1, 2, 3].map((d) => `c${i}_${j + d}`).join(', ')})); }`,
        );
      continue;
    }
    for (let j = 0; j < tv; j++) {
      const [m, n] = axis === 'N' ? [`u0 + ${i}u`, `vc${j}`] : [`vc${j}`, `u0 + ${i}u`];
      if (i === 0) p(`  let vc${j} = ${vCol(j)};`);
      p(`  if (u0 + ${i}u < ${U.uR} && vc${j} < ${V.uR}) { out_set(cBase + (${m}) * ${B.uR} + ${n}, c${i}_${j}); }`);
    }
  }
  const wgsl = `${batchOffset('aBatch', s.batchDims, s.aBatchStrides)}${batchOffset('bBatch', s.batchDims, s.bBatchStrides)}
@compute @workgroup_size(${lanes}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  // Row tiles vary fastest, so consecutive workgroups reuse the same V columns from cache.
  let t = wid.x + wid.y * nwg.x;
  if (t >= u.tiles) { return; }
  let r = t / u.UT;
  let bz = r / u.VT;
  let v0 = (r % u.VT) * ${lanes * tv}u;
  let u0 = (t % u.UT) * ${tu}u;
  let aBase = aBatch(bz);
  let bBase = bBatch(bz);
  let cBase = bz * ${A.uR} * ${B.uR};
${L.join('\n')}
}
`;
  const uniforms = { M: u32(s.M), N: u32(s.N), K: u32(s.K), kMain: u32(kMain), UT: u32(UT), VT: u32(VT), tiles: u32(UT * VT * s.batches) };
  return { wgsl, uniforms };
}

/** Row tiles x batches, folded into y and z past the 65535-per-dimension limit. */
function fold(x: number, rowsTimesBatches: number): [number, number, number] {
  const y = Math.min(rowsTimesBatches, 65535);
  return [x, y, Math.ceil(rowsTimesBatches / y)];
}

export function lanesGrid(s: MatmulSpec, c: LanesConfig): [number, number, number] {
  const axis = resolveLaneAxis(s, c);
  const [UR, VR] = axis === 'N' ? [s.M, s.N] : [s.N, s.M];
  const total = Math.ceil(VR / (c.lanes * c.tv)) * Math.ceil(UR / c.tu) * s.batches;
  const x = Math.min(total, 65535);
  return [x, Math.ceil(total / x), 1];
}

/**
 * Workgroup-shared tiling for GPUs: the workgroup stages a BM x tk tile of A and a tk x BN tile
 * of B (BM = tm·wgM, BN = tn·wgN) in workgroup memory, then each invocation accumulates tm x tn
 * outputs in registers.
 * - Loader lanes run along each operand's contiguous axis (k for A, and for Bᵀ as a Linear weight;
 *   m for Aᵀ; n for B), so global reads are coalesced for every transpose; where they run along k
 *   the shared rows are padded so the strided stores spread over the banks.
 * - `layout: 'strided'`: invocation (tx, ty) owns rows ty + i·wgM and columns tx + j·wgN (scalar
 *   shared reads, coalesced stores). `'blocked'`: rows ty·tm + i and columns tx·tn + j, read from
 *   workgroup memory as vec4 (a quarter of the shared loads per FMA; tm, tn multiples of 4).
 * - Split-K (`splits` > 1): workgroup z-slice s reduces k in [s·CK, (s+1)·CK) and writes its partial
 *   product to out[s] ([splits, batches·M·N]); the caller sums the slices in order.
 */
export function sharedWgsl(s: MatmulSpec, c: SharedConfig, splits = 1, CK = s.K): MatmulKernel {
  const { tm, tn, wgM, wgN, tk } = c;
  const blocked = c.layout === 'blocked';
  if (blocked && (tm % 4 !== 0 || tn % 4 !== 0)) throw new Error(`matmul: blocked shared tiles need tm and tn multiples of 4, got ${JSON.stringify(c)}`);
  const BM = tm * wgM;
  const BN = tn * wgN;
  const threads = wgM * wgN;
  const MT = Math.ceil(s.M / BM);
  const aAlongK = !s.transA;
  const bAlongK = s.transB;
  // Row strides of the shared tiles, in scalars (blocked: in vec4s).
  const SA = blocked ? BM / 4 + (aAlongK ? 1 : 0) : BM + (aAlongK ? 1 : 0);
  const SB = blocked ? BN / 4 + (bAlongK ? 1 : 0) : BN + (bAlongK ? 1 : 0);
  const aIdx = (m: string, k: string) => (s.transA ? `aBase + ${k} * u.M + ${m}` : `aBase + ${m} * u.K + ${k}`);
  const bIdx = (k: string, n: string) => (s.transB ? `bBase + ${n} * u.K + ${k}` : `bBase + ${k} * u.N + ${n}`);
  const store = (arr: string, S: number, kk: string, r: string) => (blocked ? `${arr}[${kk} * ${S}u + ${r} / 4u][${r} % 4u]` : `${arr}[${kk} * ${S}u + ${r}]`);
  const L: string[] = [];
  const p = (x: string) => L.push(x);
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) p(`  var c${i}_${j} = 0.0;`);
  // Cooperative loads, unrolled into registers la*/lb* (so the prefetching variant can issue the
  // next tile's before this tile's FMAs): slot q of an invocation is element e = lid + q·threads
  // of the tile; zero outside the matrix (and the split's K range), so the FMAs need no checks.
  const QA = Math.ceil((BM * tk) / threads);
  const QB = Math.ceil((BN * tk) / threads);
  const loads = (kv: string) => {
    const one = (q: number, n: number, reg: string, pick: string, guard: string, read: string) => {
      const e = `lid + ${q * threads}u`;
      p(
        `    { var v = 0.0; let e = ${e};${(q + 1) * threads > n ? ` if (e < ${n}u)` : ''} { ${pick} let gk = ${kv} + kk; if (${guard} && gk < kEnd) { v = ${read}; } } ${reg} = v; }`,
      );
    };
    for (let q = 0; q < QA; q++) {
      const pick = aAlongK ? `let kk = e % ${tk}u; let gm = m0 + e / ${tk}u;` : `let kk = e / ${BM}u; let gm = m0 + e % ${BM}u;`;
      one(q, BM * tk, `la${q}`, pick, 'gm < u.M', `a_get(${aIdx('gm', 'gk')})`);
    }
    for (let q = 0; q < QB; q++) {
      const pick = bAlongK ? `let kk = e % ${tk}u; let gn = n0 + e / ${tk}u;` : `let kk = e / ${BN}u; let gn = n0 + e % ${BN}u;`;
      one(q, BN * tk, `lb${q}`, pick, 'gn < u.N', `b_get(${bIdx('gk', 'gn')})`);
    }
  };
  const stores = () => {
    for (let q = 0; q < QA; q++) {
      const e = `lid + ${q * threads}u`;
      const [kk, mm] = aAlongK ? [`(${e}) % ${tk}u`, `(${e}) / ${tk}u`] : [`(${e}) / ${BM}u`, `(${e}) % ${BM}u`];
      const guard = (q + 1) * threads > BM * tk ? `if (${e} < ${BM * tk}u) ` : '';
      p(`    ${guard}{ ${store('ta', SA, kk, mm)} = la${q}; }`);
    }
    for (let q = 0; q < QB; q++) {
      const e = `lid + ${q * threads}u`;
      const [kk, nn] = bAlongK ? [`(${e}) % ${tk}u`, `(${e}) / ${tk}u`] : [`(${e}) / ${BN}u`, `(${e}) % ${BN}u`];
      const guard = (q + 1) * threads > BN * tk ? `if (${e} < ${BN * tk}u) ` : '';
      p(`    ${guard}{ ${store('tb', SB, kk, nn)} = lb${q}; }`);
    }
  };
  for (let q = 0; q < QA; q++) p(`  var la${q} = 0.0;`);
  for (let q = 0; q < QB; q++) p(`  var lb${q} = 0.0;`);
  if (c.prefetch) {
    loads('kBeg');
    p(`  for (var k0 = kBeg; k0 < kEnd; k0 += ${tk}u) {`);
    stores();
    p('    workgroupBarrier();');
    // The next tile's loads are in flight while this tile's FMAs run.
    p(`    if (k0 + ${tk}u < kEnd) {`);
    loads(`k0 + ${tk}u`);
    p('    }');
  } else {
    p(`  for (var k0 = kBeg; k0 < kEnd; k0 += ${tk}u) {`);
    loads('k0');
    stores();
    p('    workgroupBarrier();');
  }
  p(`    for (var kk = 0u; kk < ${tk}u; kk++) {`);
  const comp = ['x', 'y', 'z', 'w'];
  let av: (i: number) => string;
  let bv: (j: number) => string;
  if (blocked) {
    for (let q = 0; q < tm / 4; q++) p(`      let a${q} = ta[kk * ${SA}u + ty * ${tm / 4}u + ${q}u];`);
    for (let q = 0; q < tn / 4; q++) p(`      let b${q} = tb[kk * ${SB}u + tx * ${tn / 4}u + ${q}u];`);
    av = (i) => `a${Math.floor(i / 4)}.${comp[i % 4]}`;
    bv = (j) => `b${Math.floor(j / 4)}.${comp[j % 4]}`;
  } else {
    for (let i = 0; i < tm; i++) p(`      let a${i} = ta[kk * ${SA}u + ty + ${i * wgM}u];`);
    for (let j = 0; j < tn; j++) p(`      let b${j} = tb[kk * ${SB}u + tx + ${j * wgN}u];`);
    av = (i) => `a${i}`;
    bv = (j) => `b${j}`;
  }
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) p(`      c${i}_${j} = fma(${av(i)}, ${bv(j)}, c${i}_${j});`);
  p('    }');
  p('    workgroupBarrier();');
  p('  }');
  const row = (i: number) => (blocked ? `ty * ${tm}u + ${i}u` : `ty + ${i * wgM}u`);
  const col = (j: number) => (blocked ? `tx * ${tn}u + ${j}u` : `tx + ${j * wgN}u`);
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn; j++) {
      p(`  { let m = m0 + ${row(i)}; let n = n0 + ${col(j)}; if (m < u.M && n < u.N) { out_set(cBase + m * u.N + n, c${i}_${j}); } }`);
    }
  }
  const elem = blocked ? 'vec4<f32>' : 'f32';
  const wgsl = `${batchOffset('aBatch', s.batchDims, s.aBatchStrides)}${batchOffset('bBatch', s.batchDims, s.bBatchStrides)}
var<workgroup> ta: array<${elem}, ${SA * tk}>;
var<workgroup> tb: array<${elem}, ${SB * tk}>;
@compute @workgroup_size(${wgN}, ${wgM}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lidv: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tx = lidv.x;
  let ty = lidv.y;
  let t = wid.y + wid.z * nwg.y;
  if (t >= u.MT * u.batches * u.splits) { return; }
  let split = t / (u.MT * u.batches);
  let bz = (t / u.MT) % u.batches;
  let n0 = wid.x * ${BN}u;
  let m0 = (t % u.MT) * ${BM}u;
  let kBeg = split * u.CK;
  let kEnd = min(kBeg + u.CK, u.K);
  let aBase = aBatch(bz);
  let bBase = bBatch(bz);
  let cBase = (split * u.batches + bz) * u.M * u.N;
${L.join('\n')}
}
`;
  return { wgsl, uniforms: { M: u32(s.M), N: u32(s.N), K: u32(s.K), MT: u32(MT), batches: u32(s.batches), splits: u32(splits), CK: u32(CK) } };
}

export function sharedGrid(s: MatmulSpec, c: SharedConfig, splits = 1): [number, number, number] {
  return fold(Math.ceil(s.N / (c.tn * c.wgN)), Math.ceil(s.M / (c.tm * c.wgM)) * s.batches * splits);
}

/** Workgroup memory (bytes) of a shared-tile configuration. */
export function sharedBytes(s: Pick<MatmulSpec, 'transA' | 'transB'>, c: SharedConfig): number {
  const pad = c.layout === 'blocked' ? 4 : 1;
  return (c.tm * c.wgM + (s.transA ? 0 : pad) + c.tn * c.wgN + (s.transB ? pad : 0)) * c.tk * 4;
}

/**
 * Split-K plan for the shared kernel: when the output tiles are fewer than `target` workgroups
 * (small M·N against a long K: a Linear layer at small batch), K is cut into S chunks of CK (a
 * multiple of tk, at least 4 K tiles each) so the device fills; partials stay under `maxBytes`.
 */
export function sharedSplitK(s: MatmulSpec, c: SharedConfig, target: number, maxBytes: number): { S: number; CK: number } {
  const tiles = Math.ceil(s.M / (c.tm * c.wgM)) * Math.ceil(s.N / (c.tn * c.wgN)) * s.batches;
  let S = Math.min(Math.ceil(target / tiles), Math.floor(s.K / (4 * c.tk)), Math.floor(maxBytes / (s.M * s.N * s.batches * 4)));
  if (!(S > 1)) return { S: 1, CK: s.K };
  const CK = Math.ceil(s.K / S / c.tk) * c.tk;
  S = Math.ceil(s.K / CK);
  return S > 1 ? { S, CK } : { S: 1, CK: s.K };
}
