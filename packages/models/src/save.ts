// Writing a model's weights to a file (Node only; the browser entry has writeSafetensors for bytes).
import { mapTensors, type HostValues, type MappedTensors } from '@cxr/tensor';
import type * as T from '@cxr/tensor';
import type { Module } from '@cxr/nn';
import type { HostTensor } from './weights/hostTensor.ts';
import { writeSafetensorsFileAsync } from './weights/safetensorsFile.ts';
import { firstNonFinite, NonFiniteWeightsError } from './load.ts';

/**
 * Host memory a save maps at once. Tensors come back in groups of consecutive ones up to this
 * size, one wait per group (`mapTensors`): a ResNet-18 checkpoint's 246 tensors one by one were
 * 246 round trips through the queue. A larger tensor comes back in parts of this size through the
 * same read-back buffer: VGG16's 411 MB layer in one fresh buffer took ~1.3 s a read, page faults
 * mostly, against ~0.1 s in parts (benchmarks/README.md, session 17).
 */
export const saveGroupBytes = 64 * 2 ** 20;

/**
 * Writes tensors (e.g. a model's stateDict) to a safetensors file, reading them back from the
 * device a group (or a large tensor's part) at a time when the writer reaches them and writing
 * from the mapped memory without a copy, so peak host memory is one group, at most
 * `saveGroupBytes`, not the model. Atomic: tmp file, fsync, rename.
 */
export async function saveTensors(path: string, tensors: Map<string, T.Tensor>, metadata?: Record<string, string>, options: SaveOptions = {}): Promise<void> {
  const list = [...tensors];
  const limit = options.groupBytes ?? saveGroupBytes;
  const groupOf = readGroups(
    list.map(([, t]) => t.size * 4),
    limit,
  );
  // The mapped group the writer is in (groups are consecutive: tensor i is value i - group[0]).
  // The writer writes a tensor before it loads the next, so a group's views are released when the
  // next group (or part) is mapped, or the file is done.
  let mapped: MappedTensors | null = null;
  let mappedGroup: number[] | null = null;
  const release = () => {
    mapped?.release();
    mapped = null;
    mappedGroup = null;
  };
  const valuesOf = async (i: number) => {
    const group = groupOf[i];
    if (group !== mappedGroup) {
      release();
      mapped = await mapTensors(group.map((k) => list[k][1]));
      mappedGroup = group;
    }
    return mapped!.values[i - group[0]];
  };
  const checked = (name: string, h: HostTensor, offset = 0): HostTensor => {
    const bad = options.requireFinite ? firstNonFinite(h) : -1;
    if (bad >= 0) throw new NonFiniteWeightsError(`${path}: tensor ${name} holds ${h.data[bad]} at element ${offset + bad}; non-finite weights are not saved`);
    return h;
  };
  const host = (data: HostValues, shape: number[]): HostTensor =>
    data instanceof Int32Array ? { dtype: 'int32', shape, data } : { dtype: 'float32', shape, data };
  // A tensor over the limit, in parts of whole 4-byte words (an even count, for float16).
  async function* parts(name: string, t: T.Tensor): AsyncGenerator<HostTensor> {
    const step = Math.max(2, Math.floor(limit / 4 / 2) * 2);
    for (let start = 0; start < t.size; start += step) {
      release();
      const count = Math.min(step, t.size - start);
      mapped = await mapTensors([{ tensor: t, offset: start, size: count }]);
      yield checked(name, host(mapped.values[0], [count]), start);
    }
  }
  try {
    await writeSafetensorsFileAsync(
      path,
      list.map(([name, t], i) => ({
        name,
        dtype: t.dtype === 'int32' ? ('int32' as const) : ('float32' as const),
        shape: [...t.shape],
        load: (): Promise<HostTensor> | AsyncIterable<HostTensor> =>
          t.size * 4 > limit ? parts(name, t) : valuesOf(i).then((values) => checked(name, host(values, [...t.shape]))),
      })),
      metadata,
    );
  } finally {
    release();
  }
}

/** For each of tensors of these byte sizes, the indices of its read group: consecutive tensors up to saveGroupBytes. */
export function readGroups(bytes: readonly number[], limit = saveGroupBytes): number[][] {
  const groupOf: number[][] = [];
  let group: number[] = [];
  let used = 0;
  bytes.forEach((b, i) => {
    if (group.length > 0 && used + b > limit) {
      group = [];
      used = 0;
    }
    group.push(i);
    used += b;
    groupOf[i] = group;
  });
  return groupOf;
}

export interface SaveOptions {
  /** Refuse (and leave no file) when a tensor holds NaN or ±Inf: a diverged model must not look saved. */
  requireFinite?: boolean;
  /** Host memory mapped at once (default saveGroupBytes). */
  groupBytes?: number;
}

/** A model's weights (its stateDict, torch names) to a safetensors file; see saveTensors. */
export async function saveWeights(model: Module, path: string, metadata?: Record<string, string>, options: SaveOptions = {}): Promise<void> {
  await saveTensors(path, model.stateDict(), metadata, options);
}
