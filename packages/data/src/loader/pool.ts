import { Worker } from 'node:worker_threads';
import type { BatchJob, BatchResult } from './process.ts';
import type { SynthOptions, SynthResult } from '../synth/synth.ts';
import type { AuditExtras, FileFacts } from '../audit/fileFacts.ts';
import type { Image } from '../image.ts';

/** What a worker is asked to do: a batch (decode + augment), a share of a synthesized dataset, or one file's audit facts. */
type Task = { job: BatchJob } | { synth: SynthOptions } | { facts: string; extras?: AuditExtras };

/**
 * Worker threads for decoding and augmentation. Compiled (dist/, an installed package) the worker
 * is plain JavaScript; run from source (a checkout, the tests) it is TypeScript, started through a
 * .mjs bootstrap that loads it with tsx (see worker-boot.mjs). execArgv is emptied so the
 * parent's flags (vitest's, for instance) do not leak into the workers.
 */
const workerUrl = import.meta.url.endsWith('.ts') ? new URL('./worker-boot.mjs', import.meta.url) : new URL('./worker.js', import.meta.url);

interface Slot {
  worker: Worker;
  ready: { resolve: () => void; reject: (e: Error) => void };
  booted?: boolean;
  busy?: { id: number; resolve: (r: never) => void; reject: (e: Error) => void };
}

export class WorkerPool {
  private slots: Slot[] = [];
  private queue: Array<{ task: Task; resolve: (r: never) => void; reject: (e: Error) => void }> = [];
  private nextId = 0;
  private closed = false;
  /** resolves once every worker has loaded its modules (booting tsx takes ~0.5-1 s a worker) */
  readonly ready: Promise<void>;

  constructor(readonly size: number) {
    const execArgv: string[] = [];
    const readies: Array<Promise<void>> = [];
    for (let i = 0; i < size; i++) {
      let ready!: Slot['ready'];
      readies.push(new Promise<void>((resolve, reject) => (ready = { resolve, reject })));
      const slot: Slot = { worker: new Worker(workerUrl, { execArgv }), ready };
      slot.worker.on('message', (m: { id: number; result?: unknown; error?: string; ready?: true }) => {
        if (m.ready) {
          slot.booted = true;
          slot.ready.resolve();
          if (!slot.busy) slot.worker.unref();
          return;
        }
        const b = slot.busy;
        slot.busy = undefined;
        if (b) {
          if (m.error !== undefined) b.reject(new Error(m.error));
          else b.resolve(m.result as never);
        }
        this.pump();
      });
      slot.worker.on('error', (e) => this.fail(slot, e));
      slot.worker.on('exit', (code) => {
        if (!this.closed) this.fail(slot, new Error(`data worker exited with code ${code}`));
      });
      // an idle pool must not keep the process alive (pump() refs a worker while it works), but
      // a booting one does, so that awaiting `ready` cannot end the process early
      this.slots.push(slot);
    }
    this.ready = Promise.all(readies).then(() => undefined);
    this.ready.catch(() => undefined); // also surfaced through run()
  }

  run(job: BatchJob): Promise<BatchResult> {
    return this.submit<BatchResult>({ job });
  }

  /** The data audit's read of one file (audit/fileFacts.ts readForAudit); rejects with its decode error. */
  describe(file: string, extras?: AuditExtras): Promise<{ facts: FileFacts; prepared?: Image }> {
    return this.submit<{ facts: FileFacts; prepared?: Image }>({ facts: file, extras });
  }

  /** Writes the share of a synthesized dataset that `opts.shard` names. */
  synthesize(opts: SynthOptions): Promise<SynthResult> {
    return this.submit<SynthResult>({ synth: opts });
  }

  private submit<R>(task: Task): Promise<R> {
    if (this.closed) return Promise.reject(new Error('WorkerPool is closed'));
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ task, resolve: resolve as (r: never) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    for (const s of this.slots) {
      if (s.busy) continue;
      const next = this.queue.shift();
      if (!next) {
        if (s.booted) s.worker.unref();
        continue;
      }
      const id = this.nextId++;
      s.busy = { id, resolve: next.resolve, reject: next.reject };
      s.worker.ref();
      // a reused image buffer moves to the worker (and back with the result) instead of being copied
      const out = 'job' in next.task ? next.task.job.out : undefined;
      s.worker.postMessage({ id, ...next.task }, out ? [out] : []);
    }
  }

  private fail(slot: Slot, e: Error): void {
    slot.ready.reject(e);
    slot.busy?.reject(e);
    slot.busy = undefined;
    this.slots = this.slots.filter((s) => s !== slot);
    if (!this.slots.length) for (const q of this.queue.splice(0)) q.reject(e);
    else this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queue.splice(0)) q.reject(new Error('WorkerPool closed'));
    // terminate()'s promise alone does not keep the event loop alive: with every handle unref'd the
    // process could end (exit code 13) in the middle of the caller's cleanup. A timer does, until
    // each worker has reported its exit.
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.worker.threadId === -1) return resolve(); // already gone
            const keepAlive = setInterval(() => {}, 1000);
            s.worker.once('exit', () => {
              clearInterval(keepAlive);
              resolve();
            });
            void s.worker.terminate();
          }),
      ),
    );
    this.slots = [];
  }
}
