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
    // reuse the buffer; small ones (a loss, a batch's logits) stay small. From a quarter of the
    // kept size up, the whole kept size at once: a run's first checkpoint reads a 45 MB group and
    // then 64 MB ones, and each new buffer's pages fault in on first use (~0.2 s for two).
    const rounded =
      size >= this.keepBytes / 4 && size <= this.keepBytes
        ? this.keepBytes
        : size >= 2 ** 16 && size <= this.keepBytes
          ? Math.ceil(size / 2 ** 20) * 2 ** 20
          : size;
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

/**
 * Upload staging buffers: two mappable (MAP_WRITE | COPY_SRC) buffers of `chunkBytes`, kept and
 * used in turn, so the host fills one while the queue copies the other into place. `writeBuffer`
 * of VGG16's 411 MB layer took ~1.3 s even into a buffer in use: each large write went through
 * new staging memory, every page of it faulting; through these two, ~35 ms (benchmarks/README.md,
 * session 17).
 */
export class UploadBuffers {
  private readonly kept: GPUBuffer[] = [];
  private next = 0;
  /** Buffers created so far. */
  created = 0;

  constructor(
    private readonly device: GPUDevice,
    /** Bytes per chunk (a multiple of 4); tests lower it to cross chunk boundaries. */
    public chunkBytes = 16 * 2 ** 20,
  ) {}

  /** The next kept buffer in turn, of at least `bytes` (created on first use); it may still be copying from its last fill: map it before filling. */
  take(bytes: number): GPUBuffer {
    const i = this.next;
    this.next = (this.next + 1) % 2;
    if (this.kept[i] && this.kept[i].size < bytes) {
      this.kept[i].destroy();
      delete this.kept[i];
    }
    if (!this.kept[i]) {
      this.created++;
      this.kept[i] = this.device.createBuffer({
        size: Math.max(bytes, this.chunkBytes),
        usage: GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC,
        label: 'upload staging',
      });
    }
    return this.kept[i];
  }

  destroy(): void {
    for (const b of this.kept.splice(0)) b.destroy();
  }
}
