import type { Gpu } from '../device/device.ts';
import { StagingBuffers, UploadBuffers } from './staging.ts';

/** Bytes reserved per dispatch in the uniform arena (WebGPU's minUniformBufferOffsetAlignment). */
const uniformSlot = 256;
// Room for a whole ResNet-18 training step (~310 dispatches): a batch that holds new pipelines is
// not submitted before a forced flush (see `dispatch`), and a full arena forces one.
const arenaSlots = 1024;

/**
 * Records dispatches into one command encoder and submits them in batches: one submit per op
 * would cost ~100 µs each on lavapipe and milliseconds on real GPUs.
 *
 * Per-dispatch scalars go into a CPU-side uniform arena that is written with one `writeBuffer`
 * right before the submit that reads it. Queue operations run in order, so the next batch can
 * overwrite the same GPU arena without waiting for the previous one to finish.
 */
/** A byte range of a buffer to read back (see `CommandBatcher.mapMany`). */
export interface ReadRange {
  buffer: GPUBuffer;
  offset: number;
  bytes: number;
}

export class CommandBatcher {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private recorded = 0;
  private readonly arena: GPUBuffer;
  private readonly arenaCpu = new Uint8Array(uniformSlot * arenaSlots);
  private arenaUsed = 0;
  submits = 0;
  dispatches = 0;
  /** Read-back buffers, the largest one kept for the next read. */
  readonly staging: StagingBuffers;
  /** Upload buffers for `uploadMapped`, two kept. */
  readonly uploads: UploadBuffers;
  private uploadsDone: Promise<void> = Promise.resolve();
  /** Waits to fail if the device is lost (`raceLost`); empty between waits. */
  readonly lostWaiters = new Set<(info: GPUDeviceLostInfo) => void>();
  /** The largest read-back buffer (the device's maxBufferSize); reads beyond it are split. */
  stagingLimit: number;

  constructor(
    private readonly gpu: Gpu,
    private readonly dispatchesPerSubmit: number,
  ) {
    this.arena = gpu.device.createBuffer({
      size: this.arenaCpu.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'uniform arena',
    });
    this.staging = new StagingBuffers(gpu.device);
    void gpu.device.lost.then((info) => {
      for (const fail of this.lostWaiters) fail(info);
    });
    this.uploads = new UploadBuffers(gpu.device);
    this.stagingLimit = gpu.device.limits.maxBufferSize;
  }

  private ensurePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.gpu.device.createCommandEncoder();
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    return this.pass;
  }

  /** Reserves a uniform slot for the next dispatch; returns the binding resource for it. */
  uniforms(data: ArrayBuffer): GPUBufferBinding {
    if (data.byteLength > uniformSlot) throw new Error(`uniform block of ${data.byteLength} bytes exceeds ${uniformSlot}`);
    if (this.arenaUsed + uniformSlot > this.arenaCpu.byteLength) this.flush();
    const offset = this.arenaUsed;
    this.arenaCpu.set(new Uint8Array(data), offset);
    this.arenaUsed += uniformSlot;
    return { buffer: this.arena, offset, size: uniformSlot };
  }

  dispatch(pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, workgroups: readonly [number, number, number]): void {
    const pass = this.ensurePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
    this.dispatches++;
    // While new pipelines arrive, keep recording instead of submitting: lavapipe compiles a shader
    // at its first dispatch, on the queue thread, and creating the next pipeline waits for that
    // queue. Recording on lets the prewarmer compile the step's new shaders on the other core,
    // from the newest, while this thread creates the rest; the queue then starts from the oldest.
    // Only with a prewarmer, and only for shaders it took (not those Mesa's cache holds).
    if (++this.recorded >= this.dispatchesPerSubmit && !this.gpu.pipelines.awaitsPrewarm) this.flush();
  }

  /** Records a buffer-to-buffer copy (outside any compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (!this.encoder) this.encoder = this.gpu.device.createCommandEncoder();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.recorded++;
  }

  /**
   * Writes `bytes` bytes into `dst` from `dstOffset`, after everything recorded so far, through the
   * kept upload buffers (`UploadBuffers`) a chunk at a time: `fill(into, at)` writes bytes
   * [at, at + into.length) of the data into mapped memory (a file reader reads straight into it).
   * Offsets and `bytes` must be multiples of 4. Resolves once the last chunk is submitted.
   */
  uploadMapped(dst: GPUBuffer, dstOffset: number, bytes: number, fill: (into: Uint8Array, at: number) => void, context: string): Promise<void> {
    // One upload at a time: two at once would map the same kept buffer twice.
    const run = this.uploadsDone.then(() => this.uploadChunks(dst, dstOffset, bytes, fill, context));
    this.uploadsDone = run.catch(() => {});
    return run;
  }

  private async uploadChunks(dst: GPUBuffer, dstOffset: number, bytes: number, fill: (into: Uint8Array, at: number) => void, context: string): Promise<void> {
    const chunk = this.uploads.chunkBytes;
    for (let at = 0; at < bytes; at += chunk) {
      const size = Math.min(chunk, bytes - at);
      const b = this.uploads.take(chunk);
      this.gpu.waiting();
      // Waits for the buffer's previous copy, if it is still in flight. Work recorded before stays
      // first: the copy goes into the same command stream after it.
      await this.raceLost(b.mapAsync(GPUMapMode.WRITE, 0, size), context);
      this.gpu.checkErrors(context);
      try {
        fill(new Uint8Array(b.getMappedRange(0, size)), at);
      } finally {
        b.unmap();
      }
      this.copy(b, 0, dst, dstOffset + at, size);
      // Submitted before the buffer is mapped again.
      this.flush();
    }
    this.gpu.checkErrors(context);
  }

  /** Writes host data into a buffer after everything recorded so far (flushes first). */
  upload(dst: GPUBuffer, dstOffset: number, data: ArrayBufferView): void {
    this.flush();
    this.gpu.device.queue.writeBuffer(dst, dstOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  flush(): void {
    if (!this.encoder) return;
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.gpu.pipelines.submitted();
    if (this.arenaUsed > 0) {
      this.gpu.device.queue.writeBuffer(this.arena, 0, this.arenaCpu.buffer, 0, this.arenaUsed);
      this.arenaUsed = 0;
    }
    this.gpu.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.recorded = 0;
    this.submits++;
  }

  /** Resolves when every submitted command has run; rejects if the device is lost meanwhile. */
  async sync(context: string): Promise<void> {
    this.flush();
    this.gpu.waiting();
    await this.raceLost(this.gpu.device.queue.onSubmittedWorkDone(), context);
    this.gpu.checkErrors(context);
  }

  /** Copies `bytes` from `src` to the host. */
  async read(src: GPUBuffer, srcOffset: number, bytes: number, context: string): Promise<ArrayBuffer> {
    const mapped = await this.mapMany([{ buffer: src, offset: srcOffset, bytes }], context);
    try {
      return mapped.data[0].slice(0, bytes);
    } finally {
      mapped.release();
    }
  }

  /**
   * Maps several ranges for reading with one submit and one wait: each read is a round trip
   * through the queue (on lavapipe a few ms), so reading a model's 122 tensors one by one cost
   * more than copying them. `data[i]` holds range i's bytes (padded to 8) in the mapped staging
   * memory, valid until `release()` (then detached); the caller bounds the memory (the ranges are
   * mapped together).
   * Staging buffers are split at `stagingLimit`.
   */
  async mapMany(ranges: readonly ReadRange[], context: string): Promise<{ data: ArrayBuffer[]; release: () => void }> {
    if (ranges.length === 0) return { data: [], release: () => {} };
    const limit = this.stagingLimit;
    // Each range's staging buffer, offset and size: 8-byte aligned, as getMappedRange requires.
    const places: { staging: number; offset: number; size: number }[] = [];
    const sizes: number[] = [];
    for (const r of ranges) {
      const size = Math.ceil(r.bytes / 8) * 8;
      if (size > limit) throw new Error(`${context}: ${r.bytes} bytes exceed the largest read-back buffer (${limit} bytes, the device's maxBufferSize)`);
      if (sizes.length === 0 || sizes[sizes.length - 1] + size > limit) sizes.push(0);
      places.push({ staging: sizes.length - 1, offset: sizes[sizes.length - 1], size });
      sizes[sizes.length - 1] += size;
    }
    const staging = sizes.map((size) => this.staging.take(size, `${context} readback`));
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const b of staging) this.staging.give(b);
    };
    try {
      ranges.forEach((r, i) => {
        // Copies come in whole 4-byte words; tensors' buffers are sized so (Tensor.empty).
        const size = Math.ceil(r.bytes / 4) * 4;
        if (size > 0) this.copy(r.buffer, r.offset, staging[places[i].staging], places[i].offset, size);
      });
      this.flush();
      this.gpu.waiting();
      // Only the bytes used: a reused buffer may be larger, and a browser copies what is mapped.
      await this.raceLost(Promise.all(staging.map((b, k) => b.mapAsync(GPUMapMode.READ, 0, Math.max(8, sizes[k])))), context);
      this.gpu.checkErrors(context);
      const data = places.map((p) => (p.size === 0 ? new ArrayBuffer(0) : staging[p.staging].getMappedRange(p.offset, p.size)));
      return { data, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /**
   * `p`, or an error naming `context` if the device is lost first. One listener on `device.lost`
   * serves every wait: a `.then` per wait (every step reads its loss) stayed attached to the
   * never-settling promise, memory that grew with every step.
   */
  private raceLost<T>(p: Promise<T>, context: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onLost = (info: GPUDeviceLostInfo) => reject(new Error(`${context}: WebGPU device lost (${info.reason}): ${info.message}`));
      this.lostWaiters.add(onLost);
      p.then(
        (v) => {
          this.lostWaiters.delete(onLost);
          resolve(v);
        },
        (e) => {
          this.lostWaiters.delete(onLost);
          reject(e);
        },
      );
    });
  }
}
