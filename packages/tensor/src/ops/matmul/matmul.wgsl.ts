export interface MatmulSpec {
  M: number; N: number; K: number;
  transA: boolean; transB: boolean;
  /** Per output batch: element offsets of A's and B's matrices (broadcast batches repeat). */
  batches: number;
  batchDims: number[];
  aBatchStrides: number[];
  bBatchStrides: number[];
  /** Outputs per invocation along M and N, and invocations per workgroup along each. */
  tileM: number; tileN: number; wgM: number; wgN: number;
}

function batchOffset(name: string, dims: number[], strides: number[]): string {
  if (dims.length === 0) return `fn ${name}(b: u32) -> u32 { return 0u; }\n`;
  const lines = [`fn ${name}(b: u32) -> u32 {`, '  var r = b;', '  var o = 0u;'];
  for (let d = dims.length - 1; d >= 0; d--) {
    if (strides[d] !== 0) lines.push(`  o += (r % ${dims[d]}u) * ${strides[d]}u;`);
    lines.push(`  r = r / ${dims[d]}u;`);
  }
  lines.push('  return o;', '}');
  return lines.join('\n') + '\n';
}

/**
 * Register-blocked matmul: each invocation keeps a tileM x tileN block of C in registers and
 * streams K, so every loaded A value feeds tileN FMAs and every B value tileM. On lavapipe (a CPU)
 * this beats workgroup-shared tiling, whose loads and barriers are expensive there. Shapes and
 * transposes are baked in, so index arithmetic folds to constants.
 */
export function matmulWgsl(s: MatmulSpec): string {
  const { M, N, K, tileM: tm, tileN: tn } = s;
  const aIdx = (m: string, k: string) => (s.transA ? `${k} * ${M}u + ${m}` : `${m} * ${K}u + ${k}`);
  const bIdx = (k: string, n: string) => (s.transB ? `${n} * ${K}u + ${k}` : `${k} * ${N}u + ${n}`);
  const lines: string[] = [];
  for (let i = 0; i < tm; i++) lines.push(`  let rm${i} = min(m0 + ${i}u, ${M - 1}u);`);
  for (let j = 0; j < tn; j++) lines.push(`  let cn${j} = min(n0 + ${j}u, ${N - 1}u);`);
  const acc = [];
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) acc.push(`  var c${i}_${j} = 0.0;`);
  const loop: string[] = [];
  for (let i = 0; i < tm; i++) loop.push(`    let a${i} = a_get(aBase + ${aIdx(`rm${i}`, 'k')});`);
  for (let j = 0; j < tn; j++) loop.push(`    let b${j} = b_get(bBase + ${bIdx('k', `cn${j}`)});`);
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) loop.push(`    c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`);
  const store: string[] = [];
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn; j++) {
      store.push(`  if (m0 + ${i}u < ${M}u && n0 + ${j}u < ${N}u) { out_set(cBase + (m0 + ${i}u) * ${N}u + n0 + ${j}u, c${i}_${j}); }`);
    }
  }
  return `${batchOffset('aBatch', s.batchDims, s.aBatchStrides)}${batchOffset('bBatch', s.batchDims, s.bBatchStrides)}
@compute @workgroup_size(${s.wgN}, ${s.wgM}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n0 = gid.x * ${tn}u;
  let m0 = gid.y * ${tm}u;
  if (n0 >= ${N}u || m0 >= ${M}u) { return; }
  let b = gid.z;
  let aBase = aBatch(b);
  let bBase = bBatch(b);
  let cBase = b * ${M * N}u;
${lines.join('\n')}
${acc.join('\n')}
  for (var k = 0u; k < ${K}u; k++) {
${loop.join('\n')}
  }
${store.join('\n')}
}
`;
}
