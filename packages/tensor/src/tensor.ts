import { gpu } from './device/device.ts';
import { bytesPerElement, type DType } from './dtype.ts';
import { hostValues } from './readTensors.ts';
import { fmt, sizeOf, type Shape } from './shape.ts';
import { track } from './memory/scope.ts';

/** A GPU buffer shared by a tensor and its free views (reshape); freed when the last one goes. */
export class Storage {
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    readonly byteLength: number,
  ) {}
}

let liveTensors = 0;
let liveBytes = 0;

export function tensorCounts(): { liveTensors: number; liveBytes: number } {
  return { liveTensors, liveBytes };
}

/**
 * A dense, row-major, contiguous n-d array in a GPU buffer. Ops never mutate their inputs;
 * in-place updates (optimizers) go through explicit kernels that say so.
 */
export class Tensor {
  readonly size: number;
  private storageRef: Storage | null;

  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    storage: Storage,
  ) {
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    this.storageRef = storage;
    liveTensors++;
    liveBytes += this.size * bytesPerElement[dtype];
    track(this);
  }

  /** Allocates an uninitialised tensor from the pool. */
  static empty(shape: Shape, dtype: DType = 'float32', label = 'tensor'): Tensor {
    const g = gpu();
    // Buffers and bindings come in whole 4-byte words (an odd-length float16 tensor gets 2 spare bytes).
    const bytes = Math.max(4, Math.ceil((sizeOf(shape) * bytesPerElement[dtype]) / 4) * 4);
    const buffer = g.pool.acquire(bytes, `${label} ${fmt(shape)}`);
    return new Tensor(shape, dtype, new Storage(buffer, bytes));
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.storageRef === null;
  }

  /** The storage, or an error naming the op when the tensor has been disposed. */
  storage(op = 'op'): Storage {
    if (!this.storageRef) throw new Error(`${op}: tensor of shape ${fmt(this.shape)} was used after dispose()`);
    return this.storageRef;
  }

  get buffer(): GPUBuffer {
    return this.storage().buffer;
  }

  /** A view with another shape over the same storage (no copy). */
  view(shape: Shape): Tensor {
    const s = this.storage('reshape');
    if (sizeOf(shape) !== this.size) throw new Error(`reshape: cannot view ${fmt(this.shape)} (${this.size} elements) as ${fmt(shape)}`);
    s.refs++;
    return new Tensor(shape, this.dtype, s);
  }

  dispose(): void {
    const s = this.storageRef;
    if (!s) return;
    this.storageRef = null;
    liveTensors--;
    liveBytes -= this.size * bytesPerElement[this.dtype];
    if (--s.refs === 0) gpu().pool.release(s.buffer);
  }

  /** Reads the values back to the host (flushes recorded work). */
  async toArray(): Promise<Float32Array> {
    const s = this.storage('toArray');
    const bytes = this.size * bytesPerElement[this.dtype];
    if (bytes === 0) return new Float32Array(0);
    const values = hostValues(this, await gpu().batcher.read(s.buffer, 0, Math.ceil(bytes / 4) * 4, `toArray ${fmt(this.shape)}`));
    return values instanceof Float32Array ? values : Float32Array.from(values);
  }

  /** Reads an int32 tensor back without converting through float. */
  async toInt32Array(): Promise<Int32Array> {
    if (this.dtype !== 'int32') throw new Error(`toInt32Array: tensor is ${this.dtype}, not int32`);
    const s = this.storage('toInt32Array');
    return new Int32Array(await gpu().batcher.read(s.buffer, 0, this.size * 4, `toInt32Array ${fmt(this.shape)}`));
  }

  /** Reads a single-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: tensor of shape ${fmt(this.shape)} has ${this.size} elements, not 1`);
    return (await this.toArray())[0];
  }

  toString(): string {
    return `Tensor(${fmt(this.shape)}, ${this.dtype}${this.isDisposed ? ', disposed' : ''})`;
  }
}
