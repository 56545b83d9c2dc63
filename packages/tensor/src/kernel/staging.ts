/**
 * Read-back staging buffers, one kept for reuse. A fresh buffer's memory is new to the process, and
 * on lavapipe (host memory) every page of it faults on the first copy: reading a 44 MB tensor
 * back into fresh buffers ran at ~150 MB/s, most of it in page faults (perf). The buffer kept is
 * the largest returned so far up to `keepBytes`; larger reads get buffers of their own.
 */
export class StagingBuffers {
  private spare: GPUBuffer | null = null;
  /** Buffers created so far (a reused one is not counted again). */
  created = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly keepBytes = 64 * 2 ** 20,
  ) {}

  /** An unmapped MAP_READ | COPY_DST buffer of at least `bytes`. */
  take(bytes: number, label: string): GPUBuffer {
    const size = Math.max(8, Math.ceil(bytes / 8) * 8);
    if (this.spare && this.spare.size >= size) {
      const b = this.spare;
      this.spare = null;
      return b;
    }
    // Large reads rounded up to 1 MiB within the kept range, so that slightly larger ones still
    // reuse the buffer; small ones (a loss, a batch's logits) stay small.
    const rounded = size >= 2 ** 16 && size <= this.keepBytes ? Math.min(this.keepBytes, Math.ceil(size / 2 ** 20) * 2 ** 20) : size;
    this.created++;
    return this.device.createBuffer({ size: rounded, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label });
  }

  /** Hands a buffer back (unmapping it); kept if it is the largest within `keepBytes`, else destroyed. */
  give(b: GPUBuffer): void {
    b.unmap();
    if (b.size <= this.keepBytes && (!this.spare || this.spare.size < b.size)) {
      this.spare?.destroy();
      this.spare = b;
    } else b.destroy();
  }

  destroy(): void {
    this.spare?.destroy();
    this.spare = null;
  }
}
