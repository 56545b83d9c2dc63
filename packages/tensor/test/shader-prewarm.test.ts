import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ShaderPrewarmer } from '../src/device/platform.ts';
import * as T from '../src/node.ts';
import { useDevice } from './helpers.ts';

useDevice();

/** A kernel that scales its input: `salt` makes every source new to this process's pipeline cache. */
function scale(x: T.Tensor, factor: number, salt: number): T.Tensor {
  const out = T.zeros(x.shape);
  T.runKernel({
    name: 'prewarmScale',
    body: `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < ${x.size}u) { out_set(g.x, x_get(g.x) * ${factor.toFixed(1)} + ${salt}.0 - ${salt}.0); }
}`,
    inputs: { x },
    outputs: { out },
    workgroups: [Math.ceil(x.size / 64), 1, 1],
  });
  return out;
}

describe('batcher with a shader prewarmer', () => {
  /** Runs `body` with a recording prewarmer that takes sources when `takes` says so. */
  async function withFakePrewarmer(takes: boolean, body: (messages: string[][]) => Promise<void>) {
    const g = T.gpu();
    const saved = g.pipelines.prewarmer;
    const messages: string[][] = [];
    const fake: ShaderPrewarmer = {
      warm: (sources) => {
        messages.push([...sources]);
        return takes ? sources.length : 0;
      },
      idle: async () => {},
      close: () => {},
    };
    g.pipelines.prewarmer = fake;
    try {
      T.zeros([5]); // the output allocation's own kernel, compiled before counting
      await T.sync();
      messages.length = 0;
      await body(messages);
    } finally {
      g.pipelines.prewarmer = saved;
    }
  }
  const input = [0.5, -1.25, 2, 3.5, -0.75];
  /** 24 kernels, each run twice: 48 dispatches, three times the default batch of 16. */
  const chain = (x: T.Tensor, salt: number) => {
    let y = x;
    for (let k = 0; k < 24; k++) y = scale(scale(y, k % 2 === 0 ? 2 : 0.5, salt + k), k % 2 === 0 ? 2 : 0.5, salt + k);
    return y;
  };

  it('sends each new source as its pipeline is created, oldest first, and holds the batch back until a readback', async () => {
    await withFakePrewarmer(true, async (messages) => {
      const g = T.gpu();
      const x = T.tensor(input);
      const salt = 1000 + Math.floor(Math.random() * 1e6);
      const before = g.batcher.submits;
      const y = chain(x, salt);
      // Every source reached the prewarmer while the step was still being recorded.
      expect(g.batcher.submits).toBe(before);
      expect(messages.map((m) => m.length)).toEqual(Array(24).fill(1));
      expect(messages.map((m) => Number(/\+ (\d+)\.0/.exec(m[0])?.[1]) - salt)).toEqual(Array.from({ length: 24 }, (_, k) => k));
      // 24 multiplications by 4 and 24 by 1/4: the input comes back exactly.
      expect(Array.from(await y.toArray())).toEqual(input);

      // The same kernels again: no new pipeline, so the batch is submitted every 16 dispatches.
      const again = g.batcher.submits;
      const z = chain(x, salt);
      expect(g.batcher.submits).toBeGreaterThan(again);
      expect(Array.from(await z.toArray())).toEqual(input);
      expect(messages).toHaveLength(24);
    });
  });

  it('does not hold a batch back for shaders the prewarmer leaves out (already in its cache)', async () => {
    await withFakePrewarmer(false, async (messages) => {
      const g = T.gpu();
      const x = T.tensor(input);
      const before = g.batcher.submits;
      const y = chain(x, 1000 + Math.floor(Math.random() * 1e6));
      expect(messages).toHaveLength(24);
      expect(g.batcher.submits).toBeGreaterThan(before);
      expect(Array.from(await y.toArray())).toEqual(input);
    });
  });
});

describe('shader prewarmer (lavapipe, Mesa shader cache)', () => {
  // A child process per run: the cache directory and the stats switch must be set before Mesa
  // starts. Mesa prints its disk cache's hits and misses when the device is destroyed.
  const script = `
import { destroyDevice, getDevice } from '../src/node.ts';
const k = Number(process.env.KERNELS);
const g = await getDevice({ prewarmShaders: process.env.PREWARM === '1' });
const sources = Array.from({ length: k }, (_, i) => \`@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) { out[id.x] = f32(id.x) * \${i + 2}.0 + 0.5; }\`);
const prewarmer = g.pipelines.prewarmer;
let taken = null;
if (prewarmer) {
  taken = prewarmer.warm(sources);
  await prewarmer.idle();
  // Mesa writes its cache on a background thread of the lowest priority, a moment after compiling.
  await new Promise((r) => setTimeout(r, 1000));
}
const values = [];
for (const code of sources) {
  const { device } = g;
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
  const buffer = device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const staging = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer } }] }));
  pass.dispatchWorkgroups(1);
  pass.end();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, 16);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  values.push(Array.from(new Float32Array(staging.getMappedRange().slice(0))));
}
console.log('result ' + JSON.stringify({ prewarmer: prewarmer !== null, taken, values }));
await destroyDevice();
`;
  /** One child process; `caches` (Mesa's and CXR's folders) are made and removed here unless given. */
  const run = (prewarm: boolean, caches?: { mesa: string; cxr: string }) => {
    const own = caches ?? { mesa: mkdtempSync(join(tmpdir(), 'cxr-mesa-cache-')), cxr: mkdtempSync(join(tmpdir(), 'cxr-cache-')) };
    try {
      const { CXR_PREWARM_SHADERS: _, MESA_SHADER_CACHE_DISABLE: __, ...env } = process.env;
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: {
          ...env,
          KERNELS: '6',
          PREWARM: prewarm ? '1' : '0',
          MESA_SHADER_CACHE_DIR: own.mesa,
          CXR_CACHE: own.cxr,
          MESA_SHADER_CACHE_SHOW_STATS: 'true',
        },
        encoding: 'utf8',
        cwd: import.meta.dirname,
      });
      const result = JSON.parse(/^result (.*)$/m.exec(out)?.[1] ?? 'null') as { prewarmer: boolean; taken: number | null; values: number[][] } | null;
      const stats = /disk shader cache:\s+hits = (\d+), misses = (\d+)/.exec(out);
      return { result, hits: stats ? Number(stats[1]) : null };
    } finally {
      if (!caches) for (const d of Object.values(own)) rmSync(d, { recursive: true, force: true });
    }
  };
  const expected = Array.from({ length: 6 }, (_, i) => [0, 1, 2, 3].map((x) => x * (i + 2) + 0.5));

  it('compiles shaders on a second device that the main device then finds in the cache', (ctx) => {
    // Only lavapipe compiles at the first dispatch and keeps the code in Mesa's disk cache.
    if (!/llvmpipe|lavapipe/i.test(T.gpu().adapterName)) return ctx.skip('not a lavapipe adapter: no shader prewarmer there');
    const without = run(false);
    const withPrewarm = run(true);
    expect(without.result?.prewarmer).toBe(false);
    expect(withPrewarm.result?.prewarmer).toBe(true);
    expect(withPrewarm.result?.taken).toBe(6);
    // The cached code computes what a fresh compilation does.
    expect(without.result?.values).toEqual(expected);
    expect(withPrewarm.result?.values).toEqual(expected);
    expect(without.hits).not.toBeNull();
    expect(withPrewarm.hits).not.toBeNull();
    // Each of the six shaders was compiled by the helper before the main device first ran it.
    expect((withPrewarm.hits ?? 0) - (without.hits ?? 0)).toBeGreaterThanOrEqual(6);
  }, 120_000);

  it('leaves out the shaders an earlier run compiled into the same Mesa cache, and starts over with a new one', (ctx) => {
    if (!/llvmpipe|lavapipe/i.test(T.gpu().adapterName)) return ctx.skip('not a lavapipe adapter: no shader prewarmer there');
    const caches = { mesa: mkdtempSync(join(tmpdir(), 'cxr-mesa-cache-')), cxr: mkdtempSync(join(tmpdir(), 'cxr-cache-')) };
    try {
      const first = run(true, caches);
      const second = run(true, caches);
      expect(first.result?.taken).toBe(6);
      expect(second.result?.taken).toBe(0);
      // Mesa's cache still served all six to the main device.
      expect(second.hits ?? 0).toBeGreaterThanOrEqual(6);
      expect(second.result?.values).toEqual(expected);
      // Mesa's cache deleted: the index no longer vouches for it.
      rmSync(caches.mesa, { recursive: true, force: true });
      const third = run(true, caches);
      expect(third.result?.taken).toBe(6);
      expect(third.result?.values).toEqual(expected);
    } finally {
      for (const d of Object.values(caches)) rmSync(d, { recursive: true, force: true });
    }
  }, 120_000);
});
