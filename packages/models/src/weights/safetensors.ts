// safetensors: the project's own checkpoint format. Layout: u64 little-endian header length N,
// N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`,
// then the raw little-endian C-order data, offsets relative to the data start. We validate every
// claim the header makes against the bytes actually present, so a truncated or lying file is a
// named error instead of a crash or silently zeroed weights.

import { type ByteSource, WeightFormatError, openSource, readU64 } from './byteSource.ts';
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from './half.ts';
import { type HostDtype, type HostStateDict, type HostTensor, type LazyTensor, allocHostData, isHalfDtype, numelOf, storedItemSize } from './hostTensor.ts';

const toHost: Record<string, HostDtype> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const fromHost = Object.fromEntries(Object.entries(toHost).map(([k, v]) => [v, k])) as Record<HostDtype, string>;

/** Same cap as the reference implementation: a header this big is a corrupt length field. */
const maxHeaderBytes = 100_000_000;

export interface SafetensorsFile {
  /** Tensors in data order (which is the order they were written in). */
  tensors: LazyTensor[];
  metadata: Record<string, string>;
  close(): void;
}

export type TensorsToWrite = HostStateDict | readonly LazyTensor[];

/** Parses and validates the header; tensor data is read by each `load()`. */
export function openSafetensors(input: Uint8Array | string, options: { name?: string } = {}): SafetensorsFile {
  const src = openSource(input, options.name);
  try {
    return parseHeader(src);
  } catch (err) {
    src.close();
    if (err instanceof WeightFormatError || (err as NodeJS.ErrnoException)?.code) throw err;
    throw new WeightFormatError(src.name, `safetensors: ${(err as Error).message}`);
  }
}

/** Reads all tensors (float16/bfloat16 widened to float32, dtype label kept). */
export function readSafetensors(input: Uint8Array | string, options: { name?: string } = {}): HostStateDict {
  const file = openSafetensors(input, options);
  try {
    return new Map(file.tensors.map((t) => [t.name, t.load()]));
  } finally {
    file.close();
  }
}

function parseHeader(src: ByteSource): SafetensorsFile {
  const fail = (problem: string): never => {
    throw new WeightFormatError(src.name, `safetensors: ${problem}`);
  };
  if (src.size < 8) fail(`file is ${src.size} bytes, too short for the 8-byte header length (truncated?)`);
  const n = readU64(src.read(0, 8), 0, 'header length');
  if (n < 2 || n > maxHeaderBytes) fail(`header length ${n} is implausible (not a safetensors file?)`);
  if (8 + n > src.size) fail(`header says ${n} bytes of JSON but the file has only ${src.size - 8} after the length (truncated?)`);
  const raw = src.read(8, n);
  if (raw[0] !== 0x7b) fail('header does not start with "{"');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (err) {
    fail(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLength = src.size - dataStart;
  let metadata: Record<string, string> = {};
  const entries: { name: string; dtype: HostDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(info as object)) if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
      metadata = { ...(info as Record<string, string>) };
      continue;
    }
    const e = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(`entry ${name} is not an object`);
    if (typeof e.dtype !== 'string') fail(`tensor ${name} has no dtype`);
    const dtype = toHost[e.dtype as string];
    if (!dtype) fail(`tensor ${name} has unsupported dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(toHost).join(', ')})`);
    const isCount = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
    if (!Array.isArray(e.shape) || !e.shape.every(isCount)) fail(`tensor ${name} has an invalid shape ${JSON.stringify(e.shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount) || offs[0] > offs[1]) {
      fail(`tensor ${name} has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const shape = e.shape as number[];
    const [begin, end] = offs as number[];
    const need = numelOf(shape) * storedItemSize[dtype];
    if (end - begin !== need) {
      fail(`tensor ${name}: shape [${shape.join(',')}] of ${e.dtype} needs ${need} bytes but data_offsets [${begin},${end}] span ${end - begin}`);
    }
    entries.push({ name, dtype, shape, begin, end });
  }
  // Data must be covered exactly once: sorted by offset, each tensor starts where the last ended.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of entries) {
    if (e.begin < at) fail(`tensor ${e.name} (bytes ${e.begin}..${e.end}) overlaps the previous tensor, which ends at ${at}`);
    if (e.begin > at) fail(`hole in the data: bytes ${at}..${e.begin} belong to no tensor (before ${e.name})`);
    at = e.end;
  }
  if (at > dataLength) fail(`tensors need ${at} data bytes but the file has only ${dataLength} (truncated?)`);
  if (at < dataLength) fail(`${dataLength - at} trailing bytes after the last tensor`);
  const tensors: LazyTensor[] = entries.map((e) => ({
    name: e.name,
    dtype: e.dtype,
    shape: e.shape,
    load: () => loadTensor(src, dataStart + e.begin, e.dtype, e.shape),
    readStored: (into: Uint8Array, at: number) => {
      if (at < 0 || at + into.length > e.end - e.begin)
        throw new WeightFormatError(src.name, `tensor ${e.name}: bytes ${at}..${at + into.length} are outside its ${e.end - e.begin}`);
      src.readInto(dataStart + e.begin + at, into);
    },
  }));
  return { tensors, metadata, close: () => src.close() };
}

function loadTensor(src: ByteSource, at: number, dtype: HostDtype, shape: number[]): HostTensor {
  const n = numelOf(shape);
  const data = allocHostData(dtype, n);
  if (isHalfDtype(dtype)) {
    const raw = new Uint16Array(n);
    src.readInto(at, new Uint8Array(raw.buffer));
    (dtype === 'float16' ? float16ToFloat32 : bfloat16ToFloat32)(raw, data as Float32Array);
  } else {
    src.readInto(at, new Uint8Array(data.buffer, data.byteOffset, n * storedItemSize[dtype]));
  }
  return { dtype, shape: [...shape], data };
}

export function listTensors(tensors: TensorsToWrite): LazyTensor[] {
  if (tensors instanceof Map) {
    return [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, load: () => t }));
  }
  return [...tensors];
}

/** The on-disk bytes of one tensor (narrowing half types back to 16 bits). */
export function tensorBytes(name: string, t: HostTensor): Uint8Array {
  const n = numelOf(t.shape);
  if (t.data.length !== n) throw new Error(`tensor ${name}: shape [${t.shape.join(',')}] needs ${n} values, data has ${t.data.length}`);
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') {
    if (!(t.data instanceof Float32Array)) throw new Error(`tensor ${name}: ${t.dtype} data must be held as a Float32Array`);
    const half = t.dtype === 'float16' ? float32ToFloat16(t.data) : float32ToBfloat16(t.data);
    return new Uint8Array(half.buffer);
  }
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** The JSON header, space-padded so that the data starts on an 8-byte boundary. */
export function encodeHeader(tensors: readonly { name: string; dtype: HostDtype; shape: number[] }[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__') throw new Error('a tensor cannot be called __metadata__');
    if (seen.has(t.name)) throw new Error(`duplicate tensor name ${t.name}`);
    seen.add(t.name);
    if (!(t.dtype in fromHost)) throw new Error(`tensor ${t.name}: dtype ${t.dtype} cannot be written`);
    const bytes = numelOf(t.shape) * storedItemSize[t.dtype];
    header[t.name] = { dtype: fromHost[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

/** Serializes tensors (in map order) to safetensors bytes. */
export function writeSafetensors(tensors: TensorsToWrite, metadata?: Record<string, string>): Uint8Array {
  const list = listTensors(tensors);
  const header = encodeHeader(list, metadata);
  const total = header.length + list.reduce((s, t) => s + numelOf(t.shape) * storedItemSize[t.dtype], 0);
  const out = new Uint8Array(total);
  out.set(header);
  let at = header.length;
  for (const t of list) {
    const bytes = tensorBytes(t.name, t.load());
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}
