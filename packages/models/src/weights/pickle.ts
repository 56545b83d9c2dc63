// A restricted Python unpickler. It interprets the opcode stream into plain JS values and never
// calls anything it was not given: every GLOBAL is resolved through `resolveGlobal`, which must
// return an inert stand-in (or throw), and REDUCE/BUILD/NEWOBJ only work on stand-ins that opt in.
// That is the whole security model: a checkpoint can describe data, never run code.
//
// Value mapping: None -> null, bool -> boolean, int -> number (bigint past 2^53), float -> number,
// str -> string, bytes -> Uint8Array, list and tuple -> array, dict -> Map, set -> Set.

import type { Cursor } from './byteSource.ts';

/** A stand-in for a Python callable that REDUCE may call with its argument tuple. */
export interface PyCallable {
  readonly qualname: string;
  call(args: unknown[]): unknown;
}

/** An object that accepts BUILD (pickle's `__setstate__` / `__dict__.update`). */
export interface PyBuildable {
  setState(state: unknown): void;
}

export interface UnpickleOptions {
  /** Maps `module.name` to a stand-in; must throw for anything not explicitly allowed. */
  resolveGlobal(module: string, name: string): unknown;
  /** Maps a persistent id (BINPERSID/PERSID) to its object; absent means persistent ids are refused. */
  persistentLoad?(pid: unknown): unknown;
}

export class UnpicklingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnpicklingError';
  }
}

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

function isCallable(x: unknown): x is PyCallable {
  return typeof x === 'object' && x !== null && typeof (x as PyCallable).call === 'function';
}

function isBuildable(x: unknown): x is PyBuildable {
  return typeof x === 'object' && x !== null && typeof (x as PyBuildable).setState === 'function';
}

function describe(x: unknown): string {
  if (x === null) return 'None';
  if (typeof x === 'object' && 'qualname' in (x as object)) return String((x as PyCallable).qualname);
  if (Array.isArray(x)) return 'tuple/list';
  if (x instanceof Map) return 'dict';
  return typeof x;
}

/**
 * Longest LONG1/LONG4 integer accepted, in bytes. torch checkpoints hold sizes, strides and
 * counts (8 bytes at most); a megabyte-long integer is an attack on the decoder, not data.
 */
export const maxLongBytes = 1024;

/**
 * Two's-complement little-endian integer of any width (LONG1/LONG4), in linear time: the bytes
 * become one hex string parsed once (shifting a BigInt byte by byte is quadratic: 38 s for 256 KB).
 */
function decodeLong(bytes: Uint8Array, at: number): number | bigint {
  if (bytes.length === 0) return 0;
  if (bytes.length > maxLongBytes)
    throw new UnpicklingError(`integer of ${bytes.length} bytes at byte ${at} is longer than the ${maxLongBytes}-byte limit (not a torch checkpoint?)`);
  let hex = '';
  for (let i = bytes.length - 1; i >= 0; i--) hex += bytes[i].toString(16).padStart(2, '0');
  let v = BigInt(`0x${hex}`);
  if (bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : v;
}

function toIndex(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) {
    throw new UnpicklingError(`${what}: expected a non-negative integer, got ${describe(x)}`);
  }
  return x;
}

/**
 * Reads one pickle starting at `cursor.pos`, stops after its STOP opcode and leaves the cursor
 * just past it (the legacy torch format stores several pickles back to back).
 */
export function unpickle(cursor: Cursor, options: UnpickleOptions): unknown {
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const pop = (): unknown => {
    if (stack.length === 0) throw new UnpicklingError('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw new UnpicklingError('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (!prev) throw new UnpicklingError('MARK expected but not found');
    stack = prev;
    return items;
  };
  // popMark swaps `stack`, so the items must be taken before `stack` is read again.
  const pushMarked = (make: (items: unknown[]) => unknown): void => {
    const items = popMark();
    stack.push(make(items));
  };
  const readLine = (): string => {
    const start = cursor.pos;
    const chars: number[] = [];
    for (;;) {
      const c = cursor.u8();
      if (c === 0x0a) break;
      chars.push(c);
      if (chars.length > 1 << 16) throw new UnpicklingError(`text line at byte ${start} is too long`);
    }
    return latin1.decode(Uint8Array.from(chars));
  };
  const readU32 = (): number => {
    const b = cursor.take(4);
    return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  };
  const readU64 = (): number => {
    const lo = readU32();
    const hi = readU32();
    if (hi >= 0x200000) throw new UnpicklingError('8-byte length is too large');
    return hi * 2 ** 32 + lo;
  };
  const copyBytes = (n: number): Uint8Array => cursor.take(n).slice();
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Map)) throw new UnpicklingError(`SETITEM(S) on ${describe(target)}`);
    if (items.length % 2) throw new UnpicklingError('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target)) throw new UnpicklingError(`APPEND(S) on ${describe(target)}`);
    for (const item of items) target.push(item);
  };
  const global = (module: string, name: string): unknown => options.resolveGlobal(module, name);
  const persistent = (pid: unknown): unknown => {
    if (!options.persistentLoad) throw new UnpicklingError('persistent ids are not allowed here');
    return options.persistentLoad(pid);
  };

  for (;;) {
    const at = cursor.pos;
    const op = cursor.u8();
    switch (op) {
      case 0x80: // PROTO
        if (cursor.u8() > 5) throw new UnpicklingError('unsupported pickle protocol');
        break;
      case 0x95: // FRAME: a length hint only
        cursor.skip(8);
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: {
        // BININT
        const b = cursor.take(4);
        stack.push(b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24));
        break;
      }
      case 0x4b: // BININT1
        stack.push(cursor.u8());
        break;
      case 0x4d: {
        // BININT2
        const b = cursor.take(2);
        stack.push(b[0] | (b[1] << 8));
        break;
      }
      case 0x8a: {
        // LONG1
        const at = cursor.pos;
        stack.push(decodeLong(copyBytes(cursor.u8()), at));
        break;
      }
      case 0x8b: {
        // LONG4
        const at = cursor.pos;
        const n = readU32();
        if (n > maxLongBytes)
          throw new UnpicklingError(`integer of ${n} bytes at byte ${at} is longer than the ${maxLongBytes}-byte limit (not a torch checkpoint?)`);
        stack.push(decodeLong(copyBytes(n), at));
        break;
      }
      case 0x49: {
        // INT (text; protocol 0 writes bools as I01/I00)
        const s = readLine();
        if (s === '01') stack.push(true);
        else if (s === '00') stack.push(false);
        else stack.push(parseTextInt(s));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(parseTextInt(readLine().replace(/L$/, '')));
        break;
      case 0x46: // FLOAT (text)
        stack.push(Number.parseFloat(readLine()));
        break;
      case 0x47: {
        // BINFLOAT: big-endian double
        const b = cursor.take(8);
        stack.push(new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, false));
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(cursor.take(readU32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(cursor.take(cursor.u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(cursor.take(readU64())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape line)
        stack.push(readLine().replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))));
        break;
      // Python 2 `str`: torch.load decodes these as text (encoding='utf-8'), and so do we.
      case 0x55: // SHORT_BINSTRING
        stack.push(utf8.decode(cursor.take(cursor.u8())));
        break;
      case 0x54: {
        // BINSTRING
        const n = readU32();
        if (n > 0x7fffffff) throw new UnpicklingError('negative BINSTRING length');
        stack.push(utf8.decode(cursor.take(n)));
        break;
      }
      case 0x53: // STRING (quoted repr)
        stack.push(parseQuoted(readLine()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(copyBytes(cursor.u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(copyBytes(readU32()));
        break;
      case 0x8e: // BINBYTES8
        stack.push(copyBytes(readU64()));
        break;
      case 0x96: // BYTEARRAY8
        stack.push(copyBytes(readU64()));
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        pushMarked((items) => {
          const d = new Map();
          setItems(d, items);
          return d;
        });
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        pushMarked((items) => items);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        pushMarked((items) => items);
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) throw new UnpicklingError(`ADDITEMS on ${describe(s)}`);
        for (const x of items) s.add(x);
        break;
      }
      case 0x91: // FROZENSET
        pushMarked((items) => new Set(items));
        break;
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x70: // PUT
        memo.set(toIndex(parseTextInt(readLine()), 'PUT'), top());
        break;
      case 0x71: // BINPUT
        memo.set(cursor.u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(readU32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x67 ? toIndex(parseTextInt(readLine()), 'GET') : op === 0x68 ? cursor.u8() : readU32();
        if (!memo.has(key)) throw new UnpicklingError(`memo key ${key} used before being defined (byte ${at})`);
        stack.push(memo.get(key));
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = readLine();
        const name = readLine();
        stack.push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') {
          throw new UnpicklingError('STACK_GLOBAL needs two strings');
        }
        stack.push(global(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!isCallable(fn)) throw new UnpicklingError(`REDUCE: ${describe(fn)} is not an allowed callable`);
        if (!Array.isArray(args)) throw new UnpicklingError(`REDUCE: arguments of ${fn.qualname} are not a tuple`);
        stack.push(fn.call(args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args); only stand-ins that opt in
        const args = pop();
        const cls = pop();
        if (!isCallable(cls) || !Array.isArray(args)) {
          throw new UnpicklingError(`NEWOBJ: ${describe(cls)} cannot be instantiated`);
        }
        stack.push(cls.call(args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (!isBuildable(obj)) throw new UnpicklingError(`BUILD: ${describe(obj)} does not accept state`);
        obj.setState(state);
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;
      case 0x50: // PERSID
        stack.push(persistent(readLine()));
        break;
      case 0x69: // INST
      case 0x6f: // OBJ
      case 0x92: // NEWOBJ_EX
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        throw new UnpicklingError(`opcode 0x${op.toString(16)} at byte ${at} is not allowed in a weights file`);
      default:
        throw new UnpicklingError(`unknown pickle opcode 0x${op.toString(16)} at byte ${at}`);
    }
  }
}

function parseTextInt(s: string): number | bigint {
  if (!/^[+-]?\d+$/.test(s.trim())) throw new UnpicklingError(`invalid integer literal ${JSON.stringify(s)}`);
  if (s.trim().length > 2 * maxLongBytes)
    throw new UnpicklingError(`integer literal of ${s.trim().length} digits is longer than the limit (not a torch checkpoint?)`);
  const v = BigInt(s.trim());
  return Number.isSafeInteger(Number(v)) ? Number(v) : v;
}

function parseQuoted(s: string): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s[s.length - 1] !== q) throw new UnpicklingError('STRING opcode argument is not quoted');
  return s
    .slice(1, -1)
    .replace(/\\x([0-9a-fA-F]{2})|\\(.)/g, (_, hex: string | undefined, c: string | undefined) =>
      hex ? String.fromCharCode(parseInt(hex, 16)) : c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : (c ?? ''),
    );
}
