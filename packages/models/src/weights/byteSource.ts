// Random-access bytes, either already in memory or (in Node, fileSource.ts) behind a file descriptor. The readers parse
// headers/pickles through this interface and pull tensor data straight into its destination
// array, so a 528 MB checkpoint read from a path is never held twice in memory.

export interface ByteSource {
  /** What to call the input in error messages (a path, or "<bytes>"). */
  readonly name: string;
  readonly size: number;
  /** Bytes [offset, offset+length); may be a view on an internal buffer, so do not mutate. */
  read(offset: number, length: number): Uint8Array;
  /** Fills `dest` from bytes starting at `offset` (no intermediate buffer for file sources). */
  readInto(offset: number, dest: Uint8Array): void;
  close(): void;
}

/** Thrown for malformed input; message always names the input and what is wrong. */
export class WeightFormatError extends Error {
  constructor(source: string, problem: string) {
    super(`${source}: ${problem}`);
    this.name = 'WeightFormatError';
  }
}

export function checkRange(src: ByteSource, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new WeightFormatError(src.name, `invalid byte range ${offset}+${length}`);
  }
  if (offset + length > src.size) {
    throw new WeightFormatError(src.name, `truncated: needs bytes ${offset}..${offset + length} but the input has only ${src.size} bytes`);
  }
}

export function memorySource(bytes: Uint8Array, name = '<bytes>'): ByteSource {
  const src: ByteSource = {
    name,
    size: bytes.length,
    read(offset, length) {
      checkRange(src, offset, length);
      return bytes.subarray(offset, offset + length);
    },
    readInto(offset, dest) {
      checkRange(src, offset, dest.length);
      dest.set(bytes.subarray(offset, offset + dest.length));
    },
    close() {},
  };
  return src;
}

/** How a path becomes a ByteSource: set by the Node entry (fileSource.ts); a browser has none. */
let openFile: ((path: string) => ByteSource) | null = null;

export function setFileOpener(open: (path: string) => ByteSource): void {
  openFile = open;
}

/** Opens a path or wraps bytes; the caller closes. */
export function openSource(input: Uint8Array | string, name?: string): ByteSource {
  if (typeof input !== 'string') return memorySource(input, name);
  if (!openFile) throw new WeightFormatError(input, 'reading a weight file by path needs Node; pass its bytes (a Uint8Array) instead');
  return openFile(input);
}

/**
 * Sequential reader over a ByteSource with a small read-ahead window, for the pickles and
 * headers that sit between raw tensor data (the legacy and tar formats interleave them).
 */
export class Cursor {
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart = 0;

  constructor(
    readonly src: ByteSource,
    public pos: number,
    readonly end: number = src.size,
  ) {}

  private fill(length: number): void {
    if (this.pos + length > this.end) {
      throw new WeightFormatError(this.src.name, `truncated: needs bytes ${this.pos}..${this.pos + length} but the section ends at ${this.end}`);
    }
    const want = Math.min(Math.max(length, 1 << 16), this.end - this.pos);
    this.buf = this.src.read(this.pos, want);
    this.bufStart = this.pos;
  }

  /** `length` bytes at the cursor, advancing it. The view is valid until the next call. */
  take(length: number): Uint8Array {
    if (this.pos < this.bufStart || this.pos + length > this.bufStart + this.buf.length) this.fill(length);
    const at = this.pos - this.bufStart;
    this.pos += length;
    return this.buf.subarray(at, at + length);
  }

  u8(): number {
    return this.take(1)[0];
  }

  skip(length: number): void {
    if (this.pos + length > this.end) this.fill(length); // throws the truncation error
    this.pos += length;
  }
}

/** Little-endian integer helpers over a byte view. */
export function readU16(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8);
}
export function readU32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}
export function readI32(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);
}
/** u64 as a number; throws past 2^53 because no real offset or count gets there. */
export function readU64(b: Uint8Array, at: number, what = 'value'): number {
  const lo = readU32(b, at);
  const hi = readU32(b, at + 4);
  if (hi >= 0x200000) throw new Error(`${what} ${hi * 2 ** 32 + lo} is too large`);
  return hi * 2 ** 32 + lo;
}
export function readI64(b: Uint8Array, at: number): bigint {
  return new DataView(b.buffer, b.byteOffset + at, 8).getBigInt64(0, true);
}
