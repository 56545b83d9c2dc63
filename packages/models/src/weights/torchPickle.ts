// What a torch.save pickle may reference, as inert stand-ins. This allowlist is the security
// boundary of checkpoint loading: anything not listed here (os.system, builtins.eval, a pickled
// nn.Module class...) is refused by name before a single call could happen.

import type { HostDtype } from './hostTensor.ts';
import { type PyBuildable, type PyCallable, UnpicklingError } from './pickle.ts';

/** A `torch.*Storage` class used as a dtype tag. `dtype` is undefined for types we cannot hold. */
export class StorageType {
  constructor(
    readonly qualname: string,
    readonly dtype: HostDtype | undefined,
  ) {}
}

/** A `torch.*Tensor` class; the tar format records it per tensor, we only keep it as a label. */
export class TensorType {
  constructor(readonly qualname: string) {}
}

/** A storage as referenced from the pickle; its bytes live elsewhere in the file. */
export interface StorageRef {
  kind: 'storage';
  type: StorageType;
  key: string;
  /** Element count the writer declared (the data section is checked against it). */
  numel: number;
  location: string;
  /** Legacy view of a root storage: element offset into it (0 otherwise). */
  viewOffset: number;
  /** Legacy view element count (undefined = to the end of the root storage). */
  viewNumel?: number;
}

/** A tensor as the pickle describes it: a strided view of a storage. */
export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
  requiresGrad: boolean;
}

export function isTensorRef(x: unknown): x is TensorRef {
  return typeof x === 'object' && x !== null && (x as TensorRef).kind === 'tensor';
}

export function isStorageRef(x: unknown): x is StorageRef {
  return typeof x === 'object' && x !== null && (x as StorageRef).kind === 'storage';
}

/** collections.OrderedDict; BUILD stores instance attributes such as `_metadata`. */
export class PyOrderedDict extends Map<unknown, unknown> implements PyBuildable {
  attributes = new Map<string, unknown>();
  setState(state: unknown): void {
    if (state === null) return;
    if (!(state instanceof Map)) throw new UnpicklingError('OrderedDict state must be a dict');
    for (const [k, v] of state) this.attributes.set(String(k), v);
  }
}

export class ForbiddenGlobalError extends UnpicklingError {
  constructor(readonly global: string) {
    super(
      `refusing forbidden global '${global}' in the pickle: a weights file may only reference ` +
        `collections.OrderedDict, torch._utils._rebuild_tensor(_v2)/_rebuild_parameter and torch storage ` +
        `types, and loading never runs code from it (if this file holds a whole pickled model or ` +
        `training state, re-save it with torch.save(model.state_dict(), path))`,
    );
    this.name = 'ForbiddenGlobalError';
  }
}

const storageDtypes: Record<string, HostDtype | undefined> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  // Known to torch, but with no HostDtype: allowed as names, refused when a tensor uses them.
  ComplexFloatStorage: undefined,
  ComplexDoubleStorage: undefined,
  QInt8Storage: undefined,
  QUInt8Storage: undefined,
  QInt32Storage: undefined,
  UntypedStorage: undefined,
};

const tensorTypes = new Set(['Float', 'Double', 'Half', 'BFloat16', 'Long', 'Int', 'Short', 'Char', 'Byte', 'Bool'].map((t) => `${t}Tensor`));

function callable(qualname: string, call: (args: unknown[]) => unknown): PyCallable {
  return { qualname, call };
}

function intArg(x: unknown, what: string): number {
  if (typeof x === 'bigint' && x >= 0n && x <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(x);
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) {
    throw new UnpicklingError(`${what} must be a non-negative integer`);
  }
  return x;
}

function intTuple(x: unknown, what: string): number[] {
  if (!Array.isArray(x)) throw new UnpicklingError(`${what} must be a tuple of integers`);
  return x.map((v, i) => intArg(v, `${what}[${i}]`));
}

function rebuildTensor(qualname: string, args: unknown[], requiresGrad: boolean): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!isStorageRef(storage)) throw new UnpicklingError(`${qualname}: first argument is not a storage`);
  const shape = intTuple(size, `${qualname} size`);
  const strides = intTuple(stride, `${qualname} stride`);
  if (shape.length !== strides.length) throw new UnpicklingError(`${qualname}: size and stride lengths differ`);
  return { kind: 'tensor', storage, offset: intArg(offset, `${qualname} storage offset`), shape, stride: strides, requiresGrad };
}

const allowed: Record<string, unknown> = {
  'collections.OrderedDict': callable('collections.OrderedDict', (args) => {
    const d = new PyOrderedDict();
    const init = args[0];
    if (Array.isArray(init)) {
      for (const pair of init) if (Array.isArray(pair) && pair.length === 2) d.set(pair[0], pair[1]);
    } else if (init instanceof Map) {
      for (const [k, v] of init) d.set(k, v);
    }
    return d;
  }),
  'torch._utils._rebuild_tensor_v2': callable('torch._utils._rebuild_tensor_v2', (args) =>
    rebuildTensor('torch._utils._rebuild_tensor_v2', args, args[4] === true),
  ),
  'torch._utils._rebuild_tensor': callable('torch._utils._rebuild_tensor', (args) => rebuildTensor('torch._utils._rebuild_tensor', args, false)),
  'torch._utils._rebuild_parameter': callable('torch._utils._rebuild_parameter', (args) => {
    if (!isTensorRef(args[0])) throw new UnpicklingError('_rebuild_parameter: data is not a tensor');
    return { ...args[0], requiresGrad: args[1] === true };
  }),
  'torch._utils._rebuild_parameter_with_state': callable('torch._utils._rebuild_parameter_with_state', (args) => {
    if (!isTensorRef(args[0])) throw new UnpicklingError('_rebuild_parameter_with_state: data is not a tensor');
    return { ...args[0], requiresGrad: args[1] === true };
  }),
  'torch.Size': callable('torch.Size', (args) => intTuple(args[0] ?? [], 'torch.Size')),
  // Python 3 pickles py2-era byte strings at protocol 2 as _codecs.encode(text, 'latin1').
  '_codecs.encode': callable('_codecs.encode', (args) => {
    const [text, enc] = args;
    if (typeof text !== 'string') throw new UnpicklingError('_codecs.encode: text expected');
    if (enc === 'latin1' || enc === 'latin-1' || enc === 'iso-8859-1') return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
    return new TextEncoder().encode(text);
  }),
};

/** The resolver passed to `unpickle` for every torch.save format. */
export function resolveTorchGlobal(module: string, name: string): unknown {
  const qualname = `${module}.${name}`;
  if (qualname in allowed) return allowed[qualname];
  if (module === 'torch' || module === 'torch.cuda') {
    if (name in storageDtypes) return new StorageType(qualname, storageDtypes[name]);
    if (tensorTypes.has(name)) return new TensorType(qualname);
  }
  throw new ForbiddenGlobalError(qualname);
}
