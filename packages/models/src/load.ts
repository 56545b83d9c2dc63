import * as T from '@cxr/tensor';
import type { Module } from '@cxr/nn';
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

function isSafetensors(input: Uint8Array | string): boolean {
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
 * missing and unexpected keys are errors too, all listed in one message.
 */
export function loadWeights(model: Module, source: string | LazyTensor[], options: { strict?: boolean; skip?: (name: string) => boolean } = {}): { missingKeys: string[]; unexpectedKeys: string[] } {
  const file = typeof source === 'string' ? openWeights(source) : { tensors: source, close() {} };
  try {
    const skip = options.skip ?? (() => false);
    const entries = new Map(file.tensors.filter((t) => !skip(t.name)).map((t) => [t.name, t]));
    const own = model.stateDict();
    const missing = [...own.keys()].filter((k) => !entries.has(k) && !skip(k));
    const unexpected = [...entries.keys()].filter((k) => !own.has(k));
    const misshaped = [...own].filter(([k, t]) => entries.has(k) && entries.get(k)!.shape.join(',') !== t.shape.join(','))
      .map(([k, t]) => `${k}: file [${entries.get(k)!.shape.join(',')}] vs model [${t.shape.join(',')}]`);
    if (misshaped.length || ((options.strict ?? true) && (missing.length || unexpected.length))) {
      const where = typeof source === 'string' ? ` in ${source}` : '';
      const parts = [`loadWeights: the weights${where} do not match the model`];
      if (missing.length) parts.push(`  missing keys (${missing.length}): ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`  unexpected keys (${unexpected.length}): ${unexpected.join(', ')}`);
      if (misshaped.length) parts.push(`  mis-shaped keys (${misshaped.length}):\n    ${misshaped.join('\n    ')}`);
      throw new Error(parts.join('\n'));
    }
    for (const [k] of own) {
      const lazy = entries.get(k);
      if (!lazy) continue;
      const t = toDevice(k, lazy.load());
      model.loadStateDict(new Map([[k, t]]), { strict: false });
      t.dispose();
    }
    return { missingKeys: missing, unexpectedKeys: unexpected };
  } finally {
    file.close();
  }
}
