import { availableParallelism } from 'node:os';
import { ImageDecodeError } from '../decode/errors.ts';
import type { Dataset, OnBadImage, SkippedFile } from '../dataset/imagefolder.ts';
import { mixSeed } from '../rng.ts';
import { IMAGENET_MEAN, IMAGENET_STD } from '../transforms/normalize.ts';
import { evalTransforms, type TransformSpec } from '../transforms/pipeline.ts';
import type { CacheConfig } from './cache.ts';
import { cacheLedger, type CacheNotice } from './cacheWriter.ts';
import { WorkerPool } from './pool.ts';
import { assembleBatch, runBatch, type BatchJob, type BatchResult } from './process.ts';
import type { Image } from '../image.ts';
import { epochOrder, toBatches } from './sampler.ts';

export interface Batch {
  /** N*C*H*W float32, CHW per image: normalised with C = 3, or as `normalize` says */
  images: Float32Array;
  labels: Int32Array;
  files: string[];
  /** the shape of `images`: [N, C, H, W] */
  shape: [number, number, number, number];
  epoch: number;
  /**
   * Set when the loader deferred normalisation (`deferNormalize`): `images` hold samples in [0, 1],
   * C = 1 (every image grey) or 3, and the model's input is `(x[c or 0] - mean[c]) / std[c]` over
   * 3 channels (what `normalizeChannels` in @cxr/tensor computes on the device).
   */
  normalize?: { mean: number[]; std: number[] };
}

/** Images decoded and transformed ahead of a loader, by file, with the transforms that made them. */
export interface PreparedImages {
  transforms: TransformSpec[];
  images: Map<string, Image>;
}

export interface DataLoaderOptions {
  batchSize?: number;
  shuffle?: boolean;
  seed?: number;
  dropLast?: boolean;
  /** equal numbers of each class per epoch (epoch length stays the dataset size) */
  balanced?: boolean;
  transforms?: TransformSpec[];
  /** worker threads; 0 decodes on the calling thread (default: number of CPUs) */
  workers?: number;
  /**
   * Worker threads started earlier (a `WorkerPool` booted while something else ran, so the first
   * batch does not wait ~0.15 s a thread for them); it replaces `workers`, and the loader owns it
   * from then on (`close()` ends it).
   */
  pool?: WorkerPool;
  /**
   * Images already decoded and put through this loader's transforms, by file: the data audit
   * makes them from its own decode (`AuditOptions.prepare`). Their transforms must be this
   * loader's, and give the same image every epoch (resize, centerCrop, equalize). A batch whose
   * files are all here is laid out on the calling thread without decoding anything; the loader
   * owns the map and lets each entry go once used, so a later pass decodes (or, with
   * `keepInMemory`, keeps) as usual.
   */
  prepared?: PreparedImages;
  /** batches decoded ahead of the consumer (default 2 per worker, at least 2); bounds memory */
  prefetch?: number;
  cache?: CacheConfig | false;
  onBadImage?: OnBadImage;
  mean?: number[];
  std?: number[];
  warn?: (msg: string) => void;
  /**
   * Reuse the image buffers: a batch's `images` stay valid only until the next batch is asked for
   * (the memory is then written again by a worker). For loops that upload each batch before the
   * next (`T.tensor` copies): no 19 MB allocation a batch (224 px, 32 images), so no page faults
   * in the workers and far less garbage collection on the training thread. Off by default.
   */
  reuseBuffers?: boolean;
  /**
   * Leave normalisation and the grey-to-RGB expansion to the consumer (see `Batch.normalize`):
   * grey batches are one channel, a third of the bytes to transfer and upload, and the device
   * does the arithmetic the workers would have done. Off by default.
   */
  deferNormalize?: boolean;
  /**
   * Bytes of decoded batches to keep in memory between epochs, for passes that decode the same
   * batches every epoch (no shuffling, no class balancing, no random transforms; otherwise
   * ignored): a validation set is then decoded once, and later epochs read the kept copies.
   * Nothing is written to disk. 0 (the default) keeps nothing.
   */
  keepInMemory?: number;
}

/** Transforms that give the same image every epoch. */
const deterministicKinds = new Set<TransformSpec['kind']>(['resize', 'centerCrop', 'equalize']);

/**
 * Batches from a Dataset, decoded and augmented in worker threads while the caller (the GPU loop)
 * works. GPU-agnostic: the caller uploads `images`. Every random choice derives from
 * (seed, epoch, position), so results do not depend on the number of workers or on timing.
 */
export class DataLoader implements AsyncIterable<Batch> {
  readonly opts: Required<Omit<DataLoaderOptions, 'cache' | 'warn' | 'pool' | 'prepared'>> & { cache: CacheConfig | false; warn: (m: string) => void };
  /**
   * The samples as they were at construction: the epoch plans index this list, so removing a file
   * from the caller's array later (a de-duplication, say) cannot shift or break them.
   */
  readonly dataset: Dataset;
  /** every file skipped under onBadImage 'skip', across epochs (each file listed once) */
  readonly skipped: SkippedFile[] = [];
  private pool?: WorkerPool;
  private prepared?: Map<string, Image>;
  private nextEpoch = 0;
  private labels: Int32Array;
  /** image buffers handed back (reuseBuffers), for the next jobs */
  private spare: ArrayBuffer[] = [];
  /** decoded batches by position in the epoch (keepInMemory), and their bytes */
  private readonly kept = new Map<number, BatchResult>();
  private keptBytes = 0;
  /** the bytes below the cache folder, counted by all writers together (only when cache.maxBytes is set) */
  private readonly cacheLedger?: SharedArrayBuffer;
  /** cache notices already announced, by kind: every worker reports its own */
  private readonly announced = new Set<CacheNotice['kind']>();

  constructor(dataset: Dataset, opts: DataLoaderOptions = {}) {
    this.dataset = { ...dataset, samples: [...dataset.samples] };
    this.pool = opts.pool;
    this.prepared = opts.prepared?.images;
    const workers = opts.pool?.size ?? opts.workers ?? availableParallelism();
    this.opts = {
      batchSize: opts.batchSize ?? 32,
      shuffle: opts.shuffle ?? true,
      seed: opts.seed ?? 0,
      dropLast: opts.dropLast ?? false,
      balanced: opts.balanced ?? false,
      transforms: opts.transforms ?? evalTransforms(),
      workers,
      prefetch: Math.max(1, opts.prefetch ?? Math.max(2, 2 * workers)),
      cache: opts.cache ?? false,
      onBadImage: opts.onBadImage ?? 'error',
      mean: opts.mean ?? IMAGENET_MEAN,
      std: opts.std ?? IMAGENET_STD,
      warn: opts.warn ?? ((m) => console.warn(m)),
      reuseBuffers: opts.reuseBuffers ?? false,
      deferNormalize: opts.deferNormalize ?? false,
      keepInMemory: opts.keepInMemory ?? 0,
    };
    if (!(this.opts.batchSize >= 1)) throw new Error(`batchSize must be >= 1, got ${this.opts.batchSize}`);
    if (!this.dataset.samples.length) throw new Error('DataLoader: dataset is empty');
    if (opts.prepared?.images.size) {
      if (!this.opts.transforms.every((t) => deterministicKinds.has(t.kind)))
        throw new Error('DataLoader: prepared images need transforms that give the same image every epoch (resize, centerCrop, equalize)');
      const made = JSON.stringify(opts.prepared.transforms);
      if (made !== JSON.stringify(this.opts.transforms))
        throw new Error(
          `DataLoader: the prepared images were made with other transforms (${made}) than this loader's (${JSON.stringify(this.opts.transforms)})`,
        );
    }
    this.labels = Int32Array.from(this.dataset.samples, (s) => s.label);
    if (this.opts.cache && this.opts.cache.maxBytes !== undefined) this.cacheLedger = cacheLedger(this.opts.cache.dir);
  }

  /** batches per epoch */
  get length(): number {
    const n = this.dataset.samples.length;
    return this.opts.dropLast ? Math.floor(n / this.opts.batchSize) : Math.ceil(n / this.opts.batchSize);
  }

  /** sample indices of each batch of `epoch`, without decoding anything */
  plan(epoch: number): number[][] {
    const order = epochOrder(this.labels, this.dataset.classes.length, {
      seed: this.opts.seed,
      epoch,
      shuffle: this.opts.shuffle,
      balanced: this.opts.balanced,
    });
    return toBatches(order, this.opts.batchSize, this.opts.dropLast);
  }

  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.epoch(this.nextEpoch++);
  }

  /** True when `keepInMemory` applies: every epoch decodes the same batches. */
  get keepsBatches(): boolean {
    const o = this.opts;
    return o.keepInMemory > 0 && !o.shuffle && !o.balanced && o.transforms.every((t) => deterministicKinds.has(t.kind));
  }

  /** Bytes of decoded batches kept in memory so far (`keepInMemory`). */
  get keptInMemory(): number {
    return this.keptBytes;
  }

  async *epoch(epoch: number): AsyncGenerator<Batch> {
    const plan = this.plan(epoch);
    const o = this.opts;
    const keep = this.keepsBatches;
    // A kept batch is handed out as a copy: the caller may give its buffer back for reuse.
    const copy = (r: BatchResult): BatchResult => ({ ...r, images: r.images.slice() });
    const run = (b: number[], k: number): Promise<BatchResult> => {
      const hit = keep ? this.kept.get(k) : undefined;
      if (hit) return Promise.resolve(copy(hit));
      const p = this.decode(b, k, epoch);
      if (!keep) return p;
      return p.then((r) => {
        if (this.keptBytes + r.images.byteLength <= o.keepInMemory) {
          this.kept.set(k, copy(r));
          this.keptBytes += r.images.byteLength;
        }
        return r;
      });
    };
    const inflight: Array<Promise<BatchResult>> = [];
    let issued = 0;
    const skippedNow: SkippedFile[] = [];
    const seen = new Set(this.skipped.map((s) => s.file));
    let lent: ArrayBuffer | undefined; // the buffer of the batch the caller holds
    for (let k = 0; k < plan.length; k++) {
      this.takeBack(lent);
      lent = undefined;
      while (issued < plan.length && issued - k < o.prefetch) {
        const p = run(plan[issued], issued);
        p.catch(() => undefined); // surfaced when awaited in order; avoid an unhandled rejection meanwhile
        inflight.push(p);
        issued++;
      }
      const r = await inflight.shift()!;
      const b = plan[k];
      for (const n of r.cacheNotices ?? []) {
        if (this.announced.has(n.kind)) continue;
        this.announced.add(n.kind);
        o.warn(n.message);
      }
      if (r.failed.length) {
        if (o.onBadImage === 'error') {
          const f = r.failed[0];
          throw new ImageDecodeError(f.file, f.reason);
        }
        for (const f of r.failed) {
          if (!seen.has(f.file)) {
            seen.add(f.file);
            this.skipped.push({ file: f.file, reason: f.reason });
          }
          skippedNow.push({ file: f.file, reason: f.reason });
        }
      }
      if (!r.ok.length) {
        if (o.reuseBuffers) this.takeBack(r.images.buffer as ArrayBuffer);
        continue;
      }
      if (o.reuseBuffers) lent = r.images.buffer as ArrayBuffer;
      yield {
        images: r.images,
        labels: Int32Array.from(r.ok, (i) => this.labels[b[i]]),
        files: r.ok.map((i) => this.dataset.samples[b[i]].file),
        shape: [r.ok.length, r.channels, r.height, r.width],
        epoch,
        ...(o.deferNormalize ? { normalize: { mean: o.mean, std: o.std } } : {}),
      };
    }
    this.takeBack(lent);
    if (skippedNow.length) {
      o.warn(`epoch ${epoch}: skipped ${skippedNow.length} bad image(s) (onBadImage 'skip'):\n${skippedNow.map((s) => `  ${s.file}: ${s.reason}`).join('\n')}`);
    }
  }

  /** Decodes and transforms one batch (`k`: its position in the epoch), in a worker if there are any. */
  private decode(b: number[], k: number, epoch: number): Promise<BatchResult> {
    const o = this.opts;
    const files = b.map((idx) => this.dataset.samples[idx].file);
    const ready = this.prepared && files.every((f) => this.prepared!.has(f)) ? files.map((f) => this.prepared!.get(f)!) : null;
    if (ready) {
      for (const f of files) this.prepared!.delete(f);
      const job = { items: files.map((file) => ({ file, seed: 0 })), mean: o.mean, std: o.std, deferNormalize: o.deferNormalize, out: this.spare.pop() };
      return Promise.resolve(
        assembleBatch(
          job,
          ready,
          Array.from(ready, (_, i) => i),
          [],
          0,
        ),
      );
    }
    const job: BatchJob = {
      items: b.map((idx, j) => ({ file: this.dataset.samples[idx].file, seed: mixSeed(o.seed, 'aug', epoch, k * o.batchSize + j) })),
      transforms: o.transforms,
      cache: o.cache || undefined,
      cacheLedger: this.cacheLedger,
      mean: o.mean,
      std: o.std,
      deferNormalize: o.deferNormalize,
      out: this.spare.pop(),
    };
    if (o.workers > 0) return (this.pool ??= new WorkerPool(o.workers)).run(job);
    return runBatch(job);
  }

  /** The caller asked for the next batch: the previous one's buffer can be written again. */
  private takeBack(buffer: ArrayBuffer | undefined): void {
    if (!buffer || buffer.byteLength === 0 || this.spare.includes(buffer)) return;
    // enough for every job in flight plus one; a larger pool would only hold memory
    if (this.spare.length <= this.opts.prefetch) this.spare.push(buffer);
  }

  /**
   * Starts the worker threads now and resolves when they are ready, instead of on the first
   * batch: call it while the model is being built so the first epoch does not wait for them.
   */
  async start(): Promise<void> {
    if (this.opts.workers > 0) await (this.pool ??= new WorkerPool(this.opts.workers)).ready;
  }

  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = undefined;
    this.kept.clear();
    this.keptBytes = 0;
  }
}
