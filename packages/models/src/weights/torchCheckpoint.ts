// Reader for PyTorch checkpoints in all three torch.save layouts:
//   zip (PyTorch >= 1.6): <name>/data.pkl + one stored entry per storage, <name>/data/<key>;
//   legacy (0.2 .. 1.5): magic, protocol, sys_info, object pickle, storage keys, then each storage
//     as an 8-byte little-endian element count followed by its raw bytes;
//   tar (<= 0.1.x): entries `storages`, `tensors`, `pickle` (see torch/serialization.py _legacy_load).
// Parsing only touches headers and pickles; tensor bytes are read on demand straight into each
// tensor's own array, so reading from a path needs one copy of the weights in memory, not two.

import { type ByteSource, Cursor, WeightFormatError, openSource, readI32, readI64, readU64 } from './byteSource.ts';
import { bfloat16ToFloat32, float16ToFloat32 } from './half.ts';
import {
  type HostData,
  type HostDtype,
  type HostStateDict,
  type HostTensor,
  type LazyTensor,
  allocHostData,
  isHalfDtype,
  numelOf,
  storedItemSize,
} from './hostTensor.ts';
import { unpickle } from './pickle.ts';
import { isTar, readTarEntries } from './tar.ts';
import { PyOrderedDict, type StorageRef, StorageType, type TensorRef, isStorageRef, isTensorRef, resolveTorchGlobal } from './torchPickle.ts';
import { readZipDirectory, zipEntryDataOffset } from './zip.ts';

export type TorchCheckpointFormat = 'zip' | 'legacy' | 'tar';

export interface TorchCheckpoint {
  format: TorchCheckpointFormat;
  /** Tensors in state-dict order. Valid until `close()`. */
  tensors: LazyTensor[];
  /** OrderedDict `_metadata` (module prefix -> {version: n}), when the file has it. */
  metadata?: Map<unknown, unknown>;
  /** The whole unpickled object, with tensors as TensorRef stand-ins. */
  root: unknown;
  close(): void;
}

/** Where a root storage's bytes lie in the source. */
interface StorageSpan {
  byteOffset: number;
  byteLength: number;
}

const legacyMagic = 0x1950a86a20f9469cfc6cn;
const legacyProtocol = 1001;

/** Sniffs the layout from the first bytes. */
export function detectTorchFormat(head: Uint8Array): TorchCheckpointFormat | undefined {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
  if (isTar(head)) return 'tar';
  if (head.length >= 2 && head[0] === 0x80 && head[1] <= 5) return 'legacy';
  return undefined;
}

/** Opens a checkpoint (path or bytes) and parses its structure without reading tensor data. */
export function openTorchCheckpoint(input: Uint8Array | string, options: { name?: string } = {}): TorchCheckpoint {
  const src = openSource(input, options.name);
  try {
    return withName(src.name, () => openFromSource(src));
  } catch (err) {
    src.close();
    throw err;
  }
}

/** Reads every tensor of a checkpoint into memory (float16/bfloat16 widened to float32). */
export function readTorchCheckpoint(input: Uint8Array | string, options: { name?: string } = {}): HostStateDict {
  const ckpt = openTorchCheckpoint(input, options);
  try {
    const out: HostStateDict = new Map();
    for (const t of ckpt.tensors) out.set(t.name, t.load());
    return out;
  } finally {
    ckpt.close();
  }
}

/** Re-labels any parsing error with the input's name so messages say which file is bad. */
function withName<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof WeightFormatError || (err as NodeJS.ErrnoException)?.code) throw err;
    const wrapped = new WeightFormatError(name, (err as Error)?.message ?? String(err));
    (wrapped as Error & { cause?: unknown }).cause = err;
    throw wrapped;
  }
}

function openFromSource(src: ByteSource): TorchCheckpoint {
  const format = detectTorchFormat(src.read(0, Math.min(src.size, 512)));
  if (src.size === 0) throw new WeightFormatError(src.name, 'file is empty');
  let parsed: { root: unknown; spanOf: (s: StorageRef) => StorageSpan };
  switch (format) {
    case 'zip':
      parsed = parseZip(src);
      break;
    case 'legacy':
      parsed = parseLegacy(src);
      break;
    case 'tar':
      parsed = parseTar(src);
      break;
    default:
      throw new WeightFormatError(
        src.name,
        'not a PyTorch checkpoint: expected a zip (PK\\x03\\x04), a tar (ustar at byte 257) or a legacy pickle (\\x80\\x02)',
      );
  }
  const { dict, metadata } = findStateDict(src.name, parsed.root);
  const tensors: LazyTensor[] = [];
  for (const [name, ref] of dict) {
    const dtype = ref.storage.type.dtype;
    if (!dtype) throw new WeightFormatError(src.name, `tensor ${name} uses ${ref.storage.type.qualname}, which is not supported`);
    let start: number | undefined;
    tensors.push({
      name,
      dtype,
      shape: [...ref.shape],
      load: () => withName(src.name, () => materialize(src, name, ref, dtype, parsed.spanOf(ref.storage))),
      readStored: isContiguous(ref)
        ? (into: Uint8Array, at: number) =>
            withName(src.name, () => {
              start ??= storedExtent(name, ref, dtype, parsed.spanOf(ref.storage)).byteStart;
              const bytes = numelOf(ref.shape) * storedItemSize[dtype];
              if (at < 0 || at + into.length > bytes) throw new Error(`tensor ${name}: bytes ${at}..${at + into.length} are outside its ${bytes}`);
              src.readInto(start + at, into);
            })
        : undefined,
    });
  }
  return { format: format!, tensors, metadata, root: parsed.root, close: () => src.close() };
}

/**
 * Picks the tensors out of the unpickled object: a state_dict directly, or the `state_dict` /
 * `model` entry of a training checkpoint; nested dicts are flattened with dots.
 */
function findStateDict(name: string, root: unknown): { dict: Map<string, TensorRef>; metadata?: Map<unknown, unknown> } {
  let top = root;
  if (top instanceof Map && ![...top.values()].some(isTensorRef)) {
    for (const key of ['state_dict', 'model_state_dict', 'model']) {
      if (top.get(key) instanceof Map) {
        top = top.get(key);
        break;
      }
    }
  }
  if (isTensorRef(top)) return { dict: new Map([['', top]]) };
  if (!(top instanceof Map)) throw new WeightFormatError(name, 'the checkpoint does not hold a dict of tensors');
  const dict = new Map<string, TensorRef>();
  const walk = (m: Map<unknown, unknown>, prefix: string): void => {
    for (const [k, v] of m) {
      const key = prefix + String(k);
      if (isTensorRef(v)) dict.set(key, v);
      else if (v instanceof Map) walk(v, `${key}.`);
    }
  };
  walk(top as Map<unknown, unknown>, '');
  if (dict.size === 0) throw new WeightFormatError(name, 'the checkpoint holds no tensors');
  const meta = top instanceof PyOrderedDict ? top.attributes.get('_metadata') : undefined;
  return { dict, metadata: meta instanceof Map ? meta : undefined };
}

/** A stored view may repeat its storage (stride 0, overlapping strides) at most this many times… */
export const maxExpansion = 16;
/** …once it is larger than this many elements (small broadcast buffers stay loadable). */
export const maxExpandedElements = 1 << 20;

/** Whether a stored view is C-order contiguous (dimensions of size 1 may have any stride). */
function isContiguous(ref: TensorRef): boolean {
  let expected = 1;
  for (let d = ref.shape.length - 1; d >= 0; d--) {
    if (ref.shape[d] !== 1 && ref.stride[d] !== expected) return false;
    expected *= ref.shape[d];
  }
  return true;
}

/**
 * Where a (non-empty) view's values lie in the source: the byte its first stored element starts
 * at, and the storage index of its last, refused if that is past the storage's end.
 */
function storedExtent(name: string, ref: TensorRef, dtype: HostDtype, span: StorageSpan): { byteStart: number; last: number } {
  const item = storedItemSize[dtype];
  const storageNumel = ref.storage.viewNumel ?? Math.floor(span.byteLength / item) - ref.storage.viewOffset;
  let last = ref.offset;
  for (let d = ref.shape.length - 1; d >= 0; d--) last += (ref.shape[d] - 1) * ref.stride[d];
  if (last >= storageNumel) {
    throw new Error(
      `tensor ${name} [${ref.shape.join(',')}] needs storage elements ${ref.offset}..${last} but storage ${ref.storage.key} has only ${storageNumel}`,
    );
  }
  return { byteStart: span.byteOffset + (ref.storage.viewOffset + ref.offset) * item, last };
}

/** Copies one tensor out of its storage into a fresh C-order array. */
function materialize(src: ByteSource, name: string, ref: TensorRef, dtype: HostDtype, span: StorageSpan): HostTensor {
  const shape = ref.shape;
  const numel = numelOf(shape);
  if (numel === 0) return { dtype, shape: [...shape], data: allocHostData(dtype, 0) };
  const { byteStart, last } = storedExtent(name, ref, dtype, span);
  const base = ref.offset;
  // Checked before anything is allocated: a 759-byte torch.zeros(1).expand(40000, 40000) would
  // otherwise become 6.4 GB in memory and on disk.
  const stored = last - base + 1;
  if (numel > maxExpansion * stored && numel > maxExpandedElements) {
    throw new Error(
      `tensor ${name} [${shape.join(',')}] (stride [${ref.stride.join(',')}]) repeats ${stored} stored element(s) into ${numel}; views that inflate more than ${maxExpansion}x beyond ${maxExpandedElements} elements are refused (save the tensor with .contiguous() if it is real)`,
    );
  }
  const out = allocHostData(dtype, numel);
  if (isContiguous(ref)) {
    readElements(src, byteStart, numel, dtype, out);
  } else {
    // Non-contiguous view (e.g. a saved transpose): read the span it covers once, then gather.
    const window = allocHostData(dtype, last - base + 1);
    readElements(src, byteStart, window.length, dtype, window);
    gather(window, out, shape, ref.stride);
  }
  return { dtype, shape: [...shape], data: out };
}

function readElements(src: ByteSource, byteOffset: number, n: number, dtype: HostDtype, out: HostData): void {
  if (isHalfDtype(dtype)) {
    const raw = new Uint16Array(n);
    src.readInto(byteOffset, new Uint8Array(raw.buffer));
    (dtype === 'float16' ? float16ToFloat32 : bfloat16ToFloat32)(raw, out as Float32Array);
  } else {
    src.readInto(byteOffset, new Uint8Array(out.buffer, out.byteOffset, n * storedItemSize[dtype]));
  }
}

/** out[i0,i1,...] = window[sum(ik * stride[k])] in C order. */
function gather(window: HostData, out: HostData, shape: number[], stride: number[]): void {
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  const w = window as unknown as ArrayLike<number | bigint> & { [i: number]: number | bigint };
  const o = out as unknown as { [i: number]: number | bigint };
  let at = 0;
  for (let i = 0; i < out.length; i++) {
    o[i] = w[at];
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      at += stride[d];
      if (idx[d] < shape[d]) break;
      at -= idx[d] * stride[d];
      idx[d] = 0;
    }
  }
}

function storageType(x: unknown): StorageType {
  if (!(x instanceof StorageType)) throw new Error('persistent id names something that is not a storage type');
  return x;
}

function count(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new Error(`${what} is not a valid count`);
  return x;
}

// ---- zip ----

function parseZip(src: ByteSource) {
  const entries = readZipDirectory(src);
  const pkl = entries.filter((e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl')).sort((a, b) => a.name.length - b.name.length)[0];
  if (!pkl) throw new WeightFormatError(src.name, 'zip has no data.pkl entry (is this a TorchScript archive or another zip?)');
  const prefix = pkl.name.slice(0, -'data.pkl'.length);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const byteorder = byName.get(`${prefix}byteorder`);
  if (byteorder && byteorder.method === 0) {
    const order = new TextDecoder().decode(src.read(zipEntryDataOffset(src, byteorder), byteorder.size)).trim();
    if (order !== 'little') throw new WeightFormatError(src.name, `storages are ${order}-endian; only little-endian is supported`);
  }
  if (pkl.method !== 0) throw new WeightFormatError(src.name, `${pkl.name} is compressed (method ${pkl.method}); torch.save stores it uncompressed`);
  const pklAt = zipEntryDataOffset(src, pkl);
  const storages = new Map<string, StorageRef>();
  const root = unpickle(new Cursor(src, pklAt, pklAt + pkl.size), {
    resolveGlobal: resolveTorchGlobal,
    persistentLoad(pid) {
      // ('storage', storage_type, key, location, numel)
      if (!Array.isArray(pid) || pid[0] !== 'storage') throw new Error(`unsupported persistent id ${describePid(pid)}`);
      const key = String(pid[2]);
      let s = storages.get(key);
      if (!s) {
        s = { kind: 'storage', type: storageType(pid[1]), key, location: String(pid[3]), numel: count(pid[4], `storage ${key} size`), viewOffset: 0 };
        storages.set(key, s);
      }
      return s;
    },
  });
  const spanOf = (s: StorageRef): StorageSpan => {
    const entry = byName.get(`${prefix}data/${s.key}`);
    if (!entry) throw new Error(`storage ${s.key} is missing (no entry ${prefix}data/${s.key})`);
    if (entry.method !== 0) throw new Error(`storage entry ${entry.name} is compressed; torch.save stores storages uncompressed`);
    const itemSize = s.type.dtype ? storedItemSize[s.type.dtype] : 1;
    if (entry.size !== s.numel * itemSize) {
      throw new Error(`storage ${s.key} should hold ${s.numel} x ${itemSize} bytes but its entry has ${entry.size}`);
    }
    return { byteOffset: zipEntryDataOffset(src, entry), byteLength: entry.size };
  };
  return { root, spanOf };
}

// ---- legacy sequence of pickles ----

function parseLegacy(src: ByteSource) {
  const cursor = new Cursor(src, 0);
  const plain = { resolveGlobal: resolveTorchGlobal };
  const magic = unpickle(cursor, plain);
  if (magic !== legacyMagic) throw new WeightFormatError(src.name, 'a pickle, but not a torch.save file (bad magic number)');
  const protocol = unpickle(cursor, plain);
  if (protocol !== legacyProtocol) throw new WeightFormatError(src.name, `unsupported legacy protocol version ${String(protocol)}`);
  const sysInfo = unpickle(cursor, plain);
  if (sysInfo instanceof Map && sysInfo.get('little_endian') === false) {
    throw new WeightFormatError(src.name, 'written on a big-endian machine; only little-endian is supported');
  }
  const roots = new Map<string, StorageRef>();
  const root = unpickle(cursor, {
    resolveGlobal: resolveTorchGlobal,
    persistentLoad(pid) {
      // ('storage', storage_type, root_key, location, numel, view_metadata); ('module', ...) is a
      // pickled nn.Module class and was already refused when its GLOBAL was resolved.
      if (!Array.isArray(pid) || pid[0] !== 'storage') throw new Error(`unsupported persistent id ${describePid(pid)}`);
      const key = String(pid[2]);
      let s = roots.get(key);
      if (!s) {
        s = { kind: 'storage', type: storageType(pid[1]), key, location: String(pid[3]), numel: count(pid[4], `storage ${key} size`), viewOffset: 0 };
        roots.set(key, s);
      }
      const view = pid[5];
      if (Array.isArray(view)) {
        // (view_key, offset, size): a window on the root storage, same bytes.
        return { ...s, viewOffset: count(view[1], 'view offset'), viewNumel: count(view[2], 'view size') };
      }
      return s;
    },
  });
  const keys = unpickle(cursor, plain);
  if (!Array.isArray(keys)) throw new WeightFormatError(src.name, 'storage key list is missing or corrupt');
  const spans = new Map<string, StorageSpan>();
  for (const k of keys) {
    const key = String(k);
    const s = roots.get(key);
    if (!s) throw new WeightFormatError(src.name, `storage ${key} is listed but never referenced`);
    const itemSize = s.type.dtype ? storedItemSize[s.type.dtype] : 1;
    const n = readU64(cursor.take(8), 0, `storage ${key} element count`);
    if (n !== s.numel) throw new WeightFormatError(src.name, `storage ${key} declares ${s.numel} elements but its data header says ${n}`);
    spans.set(key, { byteOffset: cursor.pos, byteLength: n * itemSize });
    cursor.skip(n * itemSize); // throws a truncation error if the data is cut short
  }
  const spanOf = (s: StorageRef): StorageSpan => {
    const span = spans.get(s.key);
    if (!span) throw new Error(`storage ${s.key} has no data in the file`);
    return span;
  };
  return { root, spanOf };
}

// ---- tar (PyTorch <= 0.1.x) ----

function parseTar(src: ByteSource) {
  const entries = new Map(readTarEntries(src).map((e) => [e.name, e]));
  const entry = (name: string) => {
    const e = entries.get(name);
    if (!e) throw new WeightFormatError(src.name, `tar checkpoint has no '${name}' entry`);
    return e;
  };
  const plain = { resolveGlobal: resolveTorchGlobal };
  const objects = new Map<string, StorageRef | TensorRef>();
  const spans = new Map<string, StorageSpan>();

  // storages: count, then per storage (key, location, storage_type) + 8-byte count + raw data,
  // then a list of views (target_key, root_key, offset, numel).
  const st = entry('storages');
  const sc = new Cursor(src, st.offset, st.offset + st.size);
  const numStorages = count(unpickle(sc, plain), 'number of storages');
  for (let i = 0; i < numStorages; i++) {
    const args = unpickle(sc, plain);
    if (!Array.isArray(args) || args.length !== 3) throw new Error(`storage record ${i} is corrupt`);
    const [key, location, type] = args;
    const t = storageType(type);
    const itemSize = t.dtype ? storedItemSize[t.dtype] : 1;
    const n = readU64(sc.take(8), 0, `storage ${String(key)} element count`);
    spans.set(String(key), { byteOffset: sc.pos, byteLength: n * itemSize });
    objects.set(String(key), { kind: 'storage', type: t, key: String(key), location: String(location), numel: n, viewOffset: 0 });
    sc.skip(n * itemSize);
  }
  const views = unpickle(sc, plain);
  for (const v of Array.isArray(views) ? views : []) {
    const [target, rootKey, offset, numel] = v as unknown[];
    const r = objects.get(String(rootKey));
    if (!isStorageRef(r)) throw new Error(`storage view ${String(target)} refers to unknown storage ${String(rootKey)}`);
    objects.set(String(target), { ...r, viewOffset: count(offset, 'view offset'), viewNumel: count(numel, 'view size') });
  }

  // tensors: count, then per tensor (key, storage_key, tensor_type) + int32 ndim, 4 pad bytes,
  // ndim int64 sizes, ndim int64 strides, int64 storage offset.
  const te = entry('tensors');
  const tc = new Cursor(src, te.offset, te.offset + te.size);
  const numTensors = count(unpickle(tc, plain), 'number of tensors');
  for (let i = 0; i < numTensors; i++) {
    const args = unpickle(tc, plain);
    if (!Array.isArray(args) || args.length !== 3) throw new Error(`tensor record ${i} is corrupt`);
    const [key, storageKey] = args;
    const storage = objects.get(String(storageKey));
    if (!isStorageRef(storage)) throw new Error(`tensor ${String(key)} refers to unknown storage ${String(storageKey)}`);
    const ndim = readI32(tc.take(8), 0);
    if (ndim < 0 || ndim > 64) throw new Error(`tensor ${String(key)} has an invalid rank ${ndim}`);
    const dims = tc.take(8 * (2 * ndim + 1)).slice();
    const num = (j: number): number => {
      const v = readI64(dims, 8 * j);
      if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`tensor ${String(key)} has an invalid size/stride`);
      return Number(v);
    };
    const shape = Array.from({ length: ndim }, (_, j) => num(j));
    const stride = Array.from({ length: ndim }, (_, j) => num(ndim + j));
    objects.set(String(key), { kind: 'tensor', storage, offset: num(2 * ndim), shape, stride, requiresGrad: false });
  }

  // pickle: the object, whose persistent ids are keys of the tensors/storages above.
  const pe = entry('pickle');
  const root = unpickle(new Cursor(src, pe.offset, pe.offset + pe.size), {
    resolveGlobal: resolveTorchGlobal,
    persistentLoad(pid) {
      if (Array.isArray(pid)) throw new Error('pickled nn.Module classes are not supported; save a state_dict');
      const obj = objects.get(String(pid));
      if (!obj) throw new Error(`pickle refers to unknown tensor/storage ${String(pid)}`);
      return obj;
    },
  });
  const spanOf = (s: StorageRef): StorageSpan => {
    const span = spans.get(s.key);
    if (!span) throw new Error(`storage ${s.key} has no data in the file`);
    return span;
  };
  return { root, spanOf };
}

function describePid(pid: unknown): string {
  return JSON.stringify(String(Array.isArray(pid) ? pid[0] : pid));
}
