/**
 * Tensors larger than one storage binding: the device is opened with a 4 KiB binding limit, so
 * every tensor over 1024 floats is split into pages behind the generated accessors. Each op family
 * is checked against a float64 reference on such tensors.
 */
import { describe, expect, it } from 'vitest';
import {
  adamStep,
  add,
  concat,
  full,
  gpu,
  linearMain,
  matmul,
  mul,
  pageRanges,
  permute,
  rand,
  runKernel,
  sgdStep,
  slice,
  softmax,
  sum,
  tensor,
  zeros,
  type Tensor,
} from '../src/index.ts';
import { cpuDefault, gpuDefault, setMatmulTiles } from '../src/ops/matmul/index.ts';
import { randomArray, relErr, sizeOf, stridesOf, unravel, useDevice } from './helpers.ts';
import { matmulRef } from './reference/matmul.ts';

useDevice({ maxBindingBytes: 4096 });

let seed = 900;
function operand(shape: number[]): { t: Tensor; data: Float32Array } {
  const data = randomArray(sizeOf(shape), seed++);
  return { t: tensor(data, shape), data };
}

describe('paged tensors (1024 floats per binding)', () => {
  it('really splits: the page size is 1024 elements', () => {
    expect(gpu().pageElements).toBe(1024);
  });

  it('matmul with both operands paged (plain and transB), CPU and GPU kernel families', async () => {
    const a = operand([45, 70]); // 3150 floats: 4 pages
    const bT = operand([52, 70]); // transB, 3640 floats: 4 pages
    const b = operand([70, 52]);
    const refT = matmulRef(a.data, [45, 70], bT.data, [52, 70], false, true);
    const ref = matmulRef(a.data, [45, 70], b.data, [70, 52]);
    try {
      for (const c of [cpuDefault, gpuDefault]) {
        setMatmulTiles(c);
        const o1 = matmul(a.t, bT.t, { transB: true });
        const o2 = matmul(a.t, b.t);
        expect(relErr(await o1.toArray(), refT.data), JSON.stringify(c)).toBeLessThan(1e-4);
        expect(relErr(await o2.toArray(), ref.data), JSON.stringify(c)).toBeLessThan(1e-4);
        o1.dispose();
        o2.dispose();
      }
    } finally {
      setMatmulTiles(null);
    }
    // Batched, broadcast, transA, odd K (no vec4 path).
    const x = operand([3, 37, 29]);
    const y = operand([37, 41]);
    const o = matmul(x.t, y.t, { transA: true });
    expect(relErr(await o.toArray(), matmulRef(x.data, [3, 37, 29], y.data, [37, 41], true, false).data)).toBeLessThan(1e-4);
    for (const t of [a, bT, b, x, y]) t.t.dispose();
    o.dispose();
  });

  it('the lanes matmul runs a paged Linear weight and a paged weight gradient page by page', async () => {
    // Forward x·Wᵀ with W [52, 64] (3328 floats: 4 pages): rows in chunks of 16, column blocks
    // joined. Weight gradient dyᵀ·x into [70, 64] (4480 floats: 5 pages): rows in chunks of 16.
    const x = operand([5, 64]);
    const w = operand([52, 64]);
    const dy = operand([6, 70]);
    const xs = operand([6, 64]);
    const fwdRef = matmulRef(x.data, [5, 64], w.data, [52, 64], false, true);
    const wgradRef = matmulRef(dy.data, [6, 70], xs.data, [6, 64], true, false);
    try {
      setMatmulTiles(cpuDefault);
      for (const [name, run, ref] of [
        ['forward', () => matmul(x.t, w.t, { transB: true }), fwdRef.data],
        ['weight gradient', () => matmul(dy.t, xs.t, { transA: true }), wgradRef.data],
      ] as const) {
        const before = gpu().batcher.dispatches;
        const o = run();
        // Unsplit, each is one dispatch; in chunks, one per chunk and the joins or row copies.
        expect(gpu().batcher.dispatches - before, name).toBeGreaterThan(4);
        expect(relErr(await o.toArray(), ref), name).toBeLessThan(1e-4);
        o.dispose();
      }
    } finally {
      setMatmulTiles(null);
    }
    for (const t of [x, w, dy, xs]) t.t.dispose();
  });

  it('full writes every page through its vec4 view (3076 floats: 4 pages)', async () => {
    const t = full([3076], 1.25);
    const v = await t.toArray();
    expect(v.length).toBe(3076);
    expect(Array.from(v).every((x) => x === 1.25)).toBe(true);
    t.dispose();
  });

  it('Adam runs page by page, each page through its vec4 view (3076 floats: 4 pages each)', async () => {
    const n = 3076;
    const p0 = randomArray(n, seed++);
    const p = tensor(p0, [n]);
    const m = zeros([n]);
    const v = zeros([n]);
    const o = { lr: 0.01, betas: [0.8, 0.95] as const, eps: 1e-6, weightDecay: 0.1, decoupledWeightDecay: false };
    const ref = Float64Array.from(p0);
    const rm = new Float64Array(n);
    const rv = new Float64Array(n);
    for (let t = 1; t <= 3; t++) {
      const g = randomArray(n, seed++);
      const gt = tensor(g, [n]);
      const before = gpu().batcher.dispatches;
      adamStep(p, gt, m, v, { ...o, step: t });
      // One dispatch per page (`pageRanges`), each binding one page of every tensor.
      expect(gpu().batcher.dispatches - before).toBe(4);
      gt.dispose();
      for (let i = 0; i < n; i++) {
        const gr = g[i] + o.weightDecay * ref[i];
        rm[i] = o.betas[0] * rm[i] + (1 - o.betas[0]) * gr;
        rv[i] = o.betas[1] * rv[i] + (1 - o.betas[1]) * gr * gr;
        ref[i] -= (o.lr * rm[i]) / (1 - o.betas[0] ** t) / (Math.sqrt(rv[i] / (1 - o.betas[1] ** t)) + o.eps);
      }
    }
    expect(relErr(await p.toArray(), ref)).toBeLessThan(1e-5);
    expect(relErr(await m.toArray(), rm)).toBeLessThan(1e-5);
    expect(relErr(await v.toArray(), rv)).toBeLessThan(1e-5);
    for (const t of [p, m, v]) t.dispose();
  });

  it('SGD with momentum runs page by page, the last page partial and scalar (2050 floats: 3 pages)', async () => {
    const n = 2050;
    const p0 = randomArray(n, seed++);
    const g = randomArray(n, seed++);
    const p = tensor(p0, [n]);
    const gt = tensor(g, [n]);
    const buf = zeros([n]);
    const o = { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: false };
    expect(pageRanges(n)).toEqual([
      { offset: 0, size: 1024 },
      { offset: 1024, size: 1024 },
      { offset: 2048, size: 2 },
    ]);
    const before = gpu().batcher.dispatches;
    sgdStep(p, gt, buf, { ...o, firstStep: true });
    expect(gpu().batcher.dispatches - before).toBe(3);
    const ref = Float64Array.from(p0, (x, i) => x - o.lr * (g[i] + o.weightDecay * x));
    expect(relErr(await p.toArray(), ref)).toBeLessThan(1e-6);
    for (const t of [p, gt, buf]) t.dispose();
  });

  it('a kernel bound to a range of a tensor sees only that range; a misaligned one is refused', async () => {
    const n = 3000;
    const data = randomArray(n, seed++);
    const src = tensor(data, [n]);
    const dst = zeros([1024]);
    runKernel({
      name: 'copyRange',
      body: linearMain(64, '  if (i >= u.n) { return; }\n  dst_set(i, src_get(i) * 2.0);'),
      inputs: { src: { tensor: src, offset: 1024, size: 1024 } },
      outputs: { dst },
      uniforms: { n: ['u32', 1024] },
      workgroups: [16, 1, 1],
    });
    const got = await dst.toArray();
    expect(Array.from(got)).toEqual(Array.from(data.slice(1024, 2048), (x) => Math.fround(x * 2)));
    const copyFrom = (offset: number, size: number) => () =>
      runKernel({
        name: 'copyRange',
        body: linearMain(64, '  dst_set(i, src_get(i));'),
        inputs: { src: { tensor: src, offset, size } },
        outputs: { dst },
        workgroups: [16, 1, 1],
      });
    expect(copyFrom(3, 1000)).toThrow(/copyRange: 'src' binds from element 3, not on the 256-byte storage-offset alignment/);
    expect(copyFrom(2048, 1024)).toThrow(/binds elements \[2048, 3072\) of a tensor of 3000/);
    src.dispose();
    dst.dispose();
  });

  it('elementwise with broadcasting', async () => {
    const a = operand([30, 70]);
    const b = operand([70]);
    const c = operand([30, 1]);
    const out = await mul(add(a.t, b.t), c.t).toArray();
    const ref = new Float64Array(2100);
    for (let i = 0; i < 30; i++) for (let j = 0; j < 70; j++) ref[i * 70 + j] = (a.data[i * 70 + j] + b.data[j]) * c.data[i];
    expect(relErr(out, ref)).toBeLessThan(1e-5);
  });

  it('reductions along each axis', async () => {
    const a = operand([40, 63]);
    const s0 = await sum(a.t, 0).toArray();
    const s1 = await sum(a.t, 1, true).toArray();
    const r0 = new Float64Array(63);
    const r1 = new Float64Array(40);
    for (let i = 0; i < 40; i++)
      for (let j = 0; j < 63; j++) {
        r0[j] += a.data[i * 63 + j];
        r1[i] += a.data[i * 63 + j];
      }
    expect(relErr(s0, r0)).toBeLessThan(1e-4);
    expect(relErr(s1, r1)).toBeLessThan(1e-4);
    const all = await sum(a.t).toArray();
    expect(relErr(all, [r1.reduce((p, v) => p + v, 0)])).toBeLessThan(1e-4);
  });

  it('softmax along the last and the first axis', async () => {
    const a = operand([33, 70]);
    for (const axis of [1, 0]) {
      const out = await softmax(a.t, axis).toArray();
      const ref = new Float64Array(33 * 70);
      const [outer, len, inner] = axis === 1 ? [33, 70, 1] : [1, 33, 70];
      for (let o = 0; o < outer; o++) {
        for (let q = 0; q < inner; q++) {
          const at = (k: number) => o * len * inner + k * inner + q;
          let m = -Infinity;
          for (let k = 0; k < len; k++) m = Math.max(m, a.data[at(k)]);
          let z = 0;
          for (let k = 0; k < len; k++) z += Math.exp(a.data[at(k)] - m);
          for (let k = 0; k < len; k++) ref[at(k)] = Math.exp(a.data[at(k)] - m) / z;
        }
      }
      expect(relErr(out, ref), `axis ${axis}`).toBeLessThan(1e-5);
    }
  });

  it('layout: permute, concat, slice', async () => {
    const shape = [5, 31, 14];
    const a = operand(shape);
    const p = permute(a.t, [2, 0, 1]);
    expect(p.shape).toEqual([14, 5, 31]);
    const pOut = await p.toArray();
    const st = stridesOf(shape);
    const pRef = Array.from({ length: pOut.length }, (_, i) => {
      const [k, i0, j] = unravel(i, [14, 5, 31]);
      return a.data[i0 * st[0] + j * st[1] + k * st[2]];
    });
    expect(relErr(pOut, pRef)).toBeLessThan(1e-6);

    const b = operand([20, 70]);
    const c = operand([15, 70]);
    const cat0 = await concat([b.t, c.t], 0).toArray();
    expect(relErr(cat0, [...b.data, ...c.data])).toBeLessThan(1e-6);
    const d = operand([20, 33]);
    const cat1 = await concat([b.t, d.t], 1).toArray();
    const cat1Ref: number[] = [];
    for (let i = 0; i < 20; i++) cat1Ref.push(...b.data.subarray(i * 70, i * 70 + 70), ...d.data.subarray(i * 33, i * 33 + 33));
    expect(relErr(cat1, cat1Ref)).toBeLessThan(1e-6);

    const s = slice(b.t, [
      { start: 3, end: 19, step: 2 },
      { start: 5, end: 69 },
    ]);
    const sRef: number[] = [];
    for (let i = 3; i < 19; i += 2) for (let j = 5; j < 69; j++) sRef.push(b.data[i * 70 + j]);
    expect(relErr(await s.toArray(), sRef)).toBeLessThan(1e-6);
  });

  it('rand: paged output matches a host Philox4x32-10 reference bit for bit', async () => {
    const n = 3000;
    const out = await rand([n], { seed: 7, low: -2, high: 3 }).toArray();
    const ref = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const x = philox([i, 0, 0, 0x43585221], [7, 0])[0];
      ref[i] = Math.fround(-2 + Math.fround(5 * Math.fround((x >>> 8) * (1 / 16777216))));
    }
    let maxDiff = 0;
    for (let i = 0; i < n; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i] - ref[i]));
    expect(maxDiff).toBeLessThan(1e-6);
    expect(relErr(out, ref)).toBeLessThan(1e-6);
  });
});

/** Philox4x32-10 as the WGSL kernel computes it. */
function philox(counter: number[], key: number[]): number[] {
  let [c0, c1, c2, c3] = counter.map((v) => v >>> 0);
  let [k0, k1] = key.map((v) => v >>> 0);
  const mul = (a: number, b: number) => {
    const p = BigInt(a) * BigInt(b);
    return [Number(p >> 32n) >>> 0, Number(p & 0xffffffffn) >>> 0];
  };
  for (let r = 0; r < 10; r++) {
    const [hi0, lo0] = mul(0xd2511f53, c0);
    const [hi1, lo1] = mul(0xcd9e8d57, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return [c0, c1, c2, c3];
}
