import * as T from '@cxr/tensor';
import { compareStateDicts, type Module, stateDictMismatchMessage } from '@cxr/nn';
import { openSource } from './weights/byteSource.ts';
// Straight from the readers, not weights/index.ts, so the browser build loads no Node-only module.
import { toFloat32, type HostTensor, type LazyTensor } from './weights/hostTensor.ts';
import { openSafetensors } from './weights/safetensors.ts';
import { openTorchCheckpoint } from './weights/torchCheckpoint.ts';

/** Host tensor → GPU tensor: integer buffers (num_batches_tracked is int64) become int32. */
export function toDevice(name: string, h: HostTensor): T.Tensor {
  if (h.dtype === 'float32' || h.dtype === 'float16' || h.dtype === 'bfloat16' || h.dtype === 'float64') {
    return T.tensor(toFloat32(h), h.shape, 'float32');
  }
  const src = h.data as ArrayLike<number | bigint>;
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = Number(src[i]);
    if (!Number.isSafeInteger(v) || v > 2 ** 31 - 1 || v < -(2 ** 31)) throw new Error(`${name}: integer ${v} does not fit int32`);
    out[i] = v;
  }
  return T.tensor(out, h.shape, 'int32');
}

/**
 * A file's tensor as a new device tensor: a float32 tensor the file stores contiguously streams
 * from the file through mapped upload memory (as in `loadWeights`), anything else goes through
 * `toDevice`. No finite check (optimizer state may hold what it likes).
 */
export async function loadToDevice(lazy: LazyTensor): Promise<T.Tensor> {
  if (!lazy.readStored || lazy.dtype !== 'float32') return toDevice(lazy.name, lazy.load());
  const t = T.Tensor.empty(lazy.shape, 'float32', 'loadToDevice');
  try {
    await T.writeTensor(t, lazy.readStored.bind(lazy));
  } catch (err) {
    t.dispose();
    throw err;
  }
  return t;
}

const trackedSuffix = 'num_batches_tracked';

/** The key/shape check of loadWeights failed: the file is for another architecture or head. */
export class WeightMismatchError extends Error {
  override name = 'WeightMismatchError';
}

/** A loaded tensor holds NaN or ±Infinity; training on it would give plausible-looking nonsense. */
export class NonFiniteWeightsError extends Error {
  override name = 'NonFiniteWeightsError';
}

/** Index of the first NaN/±Inf of a floating-point tensor, or -1. */
export function firstNonFinite(h: HostTensor): number {
  // One loop per array type: a loop shared by both ran ~4x slower (VGG16's weights: ~1 s).
  if (h.data instanceof Float32Array) return firstNaNOrInf32(h.data);
  if (h.data instanceof Float64Array) return firstNaNOrInf64(h.data);
  return -1;
}

// NaN and ±Infinity are the values whose difference with themselves is not 0.
function firstNaNOrInf32(d: Float32Array): number {
  for (let i = 0; i < d.length; i++) if (d[i] - d[i] !== 0) return i;
  return -1;
}

function firstNaNOrInf64(d: Float64Array): number {
  for (let i = 0; i < d.length; i++) if (d[i] - d[i] !== 0) return i;
  return -1;
}

/** Whether the bytes start like safetensors (a file cut short inside them still does). */
export function isSafetensors(input: Uint8Array | string): boolean {
  const src = openSource(input);
  try {
    const head = src.read(0, Math.min(9, src.size));
    // safetensors: u64 header length, then the JSON header's '{'. torch files start PK, ustar or \x80.
    return head.length === 9 && head[8] === 0x7b && head[6] === 0 && head[7] === 0;
  } finally {
    src.close();
  }
}

/** Opens a weight file of any supported format (a path in Node, or its bytes) lazily: tensors are read on `load()`. */
export function openWeights(input: Uint8Array | string): { tensors: LazyTensor[]; close(): void } {
  return isSafetensors(input) ? openSafetensors(input) : openTorchCheckpoint(input);
}

/**
 * Loads weights into a model one tensor at a time, so a 553 MB VGG16 never sits on the host or
 * the device twice. Keys and shapes are checked before anything is read; with `strict` (default)
 * missing and unexpected keys are errors too, all listed in one message. A float32 tensor the file
 * stores contiguously goes from the file straight into the model's own tensor, 16 MB at a time
 * through mapped upload memory (`writeTensor`): VGG16 from a page-cached file took ~5.6 s through
 * host arrays and `writeBuffer`, page faults mostly. Non-finite values are refused by name; the
 * tensors before, and the refused one's chunks before its bad value, are then loaded already (a
 * caller that goes on after the error must not use the model).
 */
export async function loadWeights(
  model: Module,
  source: string | LazyTensor[],
  options: { strict?: boolean; skip?: (name: string) => boolean } = {},
): Promise<{ missingKeys: string[]; unexpectedKeys: string[] }> {
  const file = typeof source === 'string' ? openWeights(source) : { tensors: source, close() {} };
  try {
    const skip = options.skip ?? (() => false);
    const entries = new Map(file.tensors.filter((t) => !skip(t.name)).map((t) => [t.name, t]));
    const own = model.stateDict();
    const check = compareStateDicts(own, entries, 'file', skip);
    // A batch norm saved before PyTorch 0.4.1 has no num_batches_tracked; PyTorch loads it
    // strictly with the counter at 0, and so does this.
    const untracked = check.missing.filter((k) => k.endsWith(`.${trackedSuffix}`) && entries.has(`${k.slice(0, -trackedSuffix.length)}running_mean`));
    check.missing = check.missing.filter((k) => !untracked.includes(k));
    const where = typeof source === 'string' ? ` in ${source}` : '';
    const mismatch = stateDictMismatchMessage(`loadWeights: the weights${where} do not match the model`, check, options.strict ?? true);
    if (mismatch) throw new WeightMismatchError(mismatch);
    const nonFinite = (k: string, value: number, at: number) => {
      const where = typeof source === 'string' ? `${source}: ` : '';
      return new NonFiniteWeightsError(
        `${where}tensor ${k} holds ${value} at element ${at} (non-finite weights: the file comes from a diverged or corrupted run)`,
      );
    };
    // The file is read into this host buffer, checked there and then copied into the mapped
    // upload memory, which a discrete GPU may map uncached (slow to read back for the check).
    let scratch = new Uint8Array(0);
    for (const [k, target] of own) {
      const lazy = entries.get(k);
      if (!lazy) continue;
      const readStored = lazy.readStored?.bind(lazy);
      if (readStored && lazy.dtype === 'float32' && target.dtype === 'float32') {
        await T.writeTensor(target, (into, at) => {
          if (scratch.length < into.length) scratch = new Uint8Array(into.length);
          const part = scratch.subarray(0, into.length);
          readStored(part, at);
          const values = new Float32Array(part.buffer, 0, part.length / 4);
          const bad = firstNonFinite({ dtype: 'float32', shape: [values.length], data: values });
          if (bad >= 0) throw nonFinite(k, values[bad], at / 4 + bad);
          into.set(part);
        });
        continue;
      }
      const host = lazy.load();
      const bad = firstNonFinite(host);
      if (bad >= 0) throw nonFinite(k, Number(host.data[bad]), bad);
      const t = toDevice(k, host);
      model.loadStateDict(new Map([[k, t]]), { strict: false });
      t.dispose();
    }
    for (const k of untracked) {
      const zero = T.zeros([], own.get(k)!.dtype);
      model.loadStateDict(new Map([[k, zero]]), { strict: false });
      zero.dispose();
    }
    return { missingKeys: check.missing, unexpectedKeys: check.unexpected };
  } finally {
    file.close();
  }
}
