/**
 * Size-bucketed pool of storage buffers. Buffers go back to the pool as soon as their tensor is
 * disposed: later GPU work is ordered after earlier work on the one queue, and every CPU upload
 * flushes recorded commands before it writes (see `CommandBatcher.upload`), so reuse is safe.
 */
export interface PoolStats {
  /** Bytes of buffers handed out and not yet released. */
  inUseBytes: number;
  /** Bytes of buffers kept for reuse. */
  pooledBytes: number;
  /** Buffers created so far (a growing count across steady-state steps means a leak). */
  created: number;
  buffersInUse: number;
}

/** Rounds a request up to one of four buckets per power of two (at most 25% slack). */
export function bucketSize(bytes: number): number {
  const n = Math.max(256, bytes);
  const p = 2 ** Math.floor(Math.log2(n));
  const step = Math.max(256, p / 4);
  return Math.ceil(n / step) * step;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly sizes = new WeakMap<GPUBuffer, number>();
  private stats: PoolStats = { inUseBytes: 0, pooledBytes: 0, created: 0, buffersInUse: 0 };

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number, label: string): GPUBuffer {
    const size = bucketSize(bytes);
    if (size > this.device.limits.maxBufferSize) {
      throw new Error(`${label}: needs a buffer of ${bytes} bytes, over this device's maxBufferSize of ${this.device.limits.maxBufferSize}`);
    }
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.stats.pooledBytes -= size;
    } else {
      buf = this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label });
      this.sizes.set(buf, size);
      this.stats.created++;
    }
    this.stats.inUseBytes += size;
    this.stats.buffersInUse++;
    return buf;
  }

  release(buf: GPUBuffer): void {
    const size = this.sizes.get(buf);
    if (size === undefined) throw new Error('BufferPool.release: buffer was not allocated by this pool');
    this.stats.inUseBytes -= size;
    this.stats.buffersInUse--;
    this.stats.pooledBytes += size;
    let list = this.free.get(size);
    if (!list) {
      list = [];
      this.free.set(size, list);
    }
    list.push(buf);
  }

  /** Destroys every pooled (unused) buffer, e.g. between phases with different shapes. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.stats.pooledBytes = 0;
  }

  destroyAll(): void {
    this.trim();
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }
}
