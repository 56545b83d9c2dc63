/**
 * One workgroup of a pipeline on placeholder buffers, timed to completion. Lavapipe JIT-compiles a
 * shader at its first dispatch, so the first call's extra time over the second is the LLVM
 * compilation (`compile-replay.ts --dispatch`, `shader-ab.ts`).
 */
export function timedDispatch(device: GPUDevice): (pipeline: GPUComputePipeline, source: string) => Promise<number> {
  // One small buffer per binding: a dispatch may not bind one buffer writable twice.
  const scratch = Array.from({ length: 17 }, () => device.createBuffer({ size: 1 << 16, usage: GPUBufferUsage.STORAGE }));
  const uniform = device.createBuffer({ size: 256, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  // Uniforms all 1: sizes and steps of 1 keep every uniform-bounded loop short and finite.
  device.queue.writeBuffer(uniform, 0, new Uint32Array(64).fill(1));
  return async (pipeline, source) => {
    const entries: GPUBindGroupEntry[] = [];
    for (const m of source.matchAll(/@group\(0\) @binding\((\d+)\) var<(storage|uniform)/g))
      entries.push({ binding: Number(m[1]), resource: { buffer: m[2] === 'uniform' ? uniform : scratch[Number(m[1])] } });
    const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const a = performance.now();
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(1);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - a;
  };
}
