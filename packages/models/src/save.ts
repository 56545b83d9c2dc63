// Writing a model's weights to a file (Node only; the browser entry has writeSafetensors for bytes).
import type * as T from '@cxr/tensor';
import type { Module } from '@cxr/nn';
import type { HostTensor } from './weights/hostTensor.ts';
import { writeSafetensorsFileAsync } from './weights/safetensorsFile.ts';
import { firstNonFinite, NonFiniteWeightsError } from './load.ts';

/**
 * Writes tensors (e.g. a model's stateDict) to a safetensors file, reading each back from the
 * device only when its turn comes, so peak host memory is the largest tensor (VGG16's 411 MB
 * layer), not the model. Atomic: tmp file, fsync, rename.
 */
export async function saveTensors(path: string, tensors: Map<string, T.Tensor>, metadata?: Record<string, string>, options: SaveOptions = {}): Promise<void> {
  await writeSafetensorsFileAsync(
    path,
    [...tensors].map(([name, t]) => ({
      name,
      dtype: t.dtype === 'int32' ? ('int32' as const) : ('float32' as const),
      shape: [...t.shape],
      load: async (): Promise<HostTensor> => {
        const h: HostTensor =
          t.dtype === 'int32'
            ? { dtype: 'int32', shape: [...t.shape], data: await t.toInt32Array() }
            : { dtype: 'float32', shape: [...t.shape], data: await t.toArray() };
        const bad = options.requireFinite ? firstNonFinite(h) : -1;
        if (bad >= 0) throw new NonFiniteWeightsError(`${path}: tensor ${name} holds ${h.data[bad]} at element ${bad}; non-finite weights are not saved`);
        return h;
      },
    })),
    metadata,
  );
}

export interface SaveOptions {
  /** Refuse (and leave no file) when a tensor holds NaN or ±Inf: a diverged model must not look saved. */
  requireFinite?: boolean;
}

/** A model's weights (its stateDict, torch names) to a safetensors file; see saveTensors. */
export async function saveWeights(model: Module, path: string, metadata?: Record<string, string>, options: SaveOptions = {}): Promise<void> {
  await saveTensors(path, model.stateDict(), metadata, options);
}
