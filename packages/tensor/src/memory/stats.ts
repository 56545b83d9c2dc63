import { gpu, hasDevice } from '../device/device.ts';
import { tensorCounts } from '../tensor.ts';

export interface MemoryStats {
  /** Tensors not yet disposed (views count separately). */
  liveTensors: number;
  /** Bytes of the values of live tensors (views share storage, so this can exceed inUseBytes). */
  liveBytes: number;
  /** Bytes of pool buffers backing live storage (bucket-rounded). */
  inUseBytes: number;
  /** Bytes held in the pool for reuse. */
  pooledBytes: number;
  /** GPU buffers created over the life of the device. */
  buffersCreated: number;
  pipelines: number;
  submits: number;
  dispatches: number;
}

export function memoryStats(): MemoryStats {
  const c = tensorCounts();
  if (!hasDevice()) return { ...c, inUseBytes: 0, pooledBytes: 0, buffersCreated: 0, pipelines: 0, submits: 0, dispatches: 0 };
  const g = gpu();
  const p = g.pool.snapshot();
  return {
    ...c,
    inUseBytes: p.inUseBytes,
    pooledBytes: p.pooledBytes,
    buffersCreated: p.created,
    pipelines: g.pipelines.size,
    submits: g.batcher.submits,
    dispatches: g.batcher.dispatches,
  };
}
