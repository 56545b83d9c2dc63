import { parentPort } from 'node:worker_threads';
import { runBatch, type BatchJob } from './process.ts';
import { synthesizeDataset, type SynthOptions } from '../synth/synth.ts';
import { readForAudit, type AuditExtras } from '../audit/fileFacts.ts';

// Jobs are handled one at a time; the pool never posts a second before the first is answered.
parentPort!.on('message', async (msg: { id: number; job?: BatchJob; synth?: SynthOptions; facts?: string; extras?: AuditExtras }) => {
  try {
    if (msg.facts !== undefined) {
      const r = await readForAudit(msg.facts, msg.extras);
      parentPort!.postMessage({ id: msg.id, result: r }, r.prepared ? [r.prepared.data.buffer as ArrayBuffer] : []);
      return;
    }
    if (msg.synth) {
      parentPort!.postMessage({ id: msg.id, result: await synthesizeDataset(msg.synth) });
      return;
    }
    const r = await runBatch(msg.job!);
    parentPort!.postMessage({ id: msg.id, result: r }, [r.images.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: (e as Error).message });
  }
});

// Module loaded (through tsx) and listening: lets the pool report when workers are ready.
parentPort!.postMessage({ ready: true });
