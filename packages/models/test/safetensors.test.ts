// safetensors read/write: round trips for every dtype, the exact on-disk layout, and a named
// error (never a crash or silent zeros) for each way a header can lie.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type HostStateDict,
  type HostTensor,
  WeightFormatError,
  hostTensor,
  openSafetensors,
  readSafetensors,
  writeSafetensors,
  writeSafetensorsFile,
  writeSafetensorsFileAsync,
} from '../src/weights/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'cxr-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sample(): HostStateDict {
  return new Map<string, HostTensor>([
    ['conv.weight', hostTensor('float32', [2, 1, 2], new Float32Array([1, -2.5, 3e-8, Math.PI]))],
    ['h', hostTensor('float16', [3], new Float32Array([1.5, -65504, 2 ** -24]))],
    ['bf', hostTensor('bfloat16', [2], new Float32Array([0.333984375, -3]))],
    ['bn.num_batches_tracked', hostTensor('int64', [], new BigInt64Array([2n ** 62n]))],
    ['d', hostTensor('float64', [1], new Float64Array([0.1]))],
    ['i', hostTensor('int32', [2], new Int32Array([-1, 7]))],
    ['s', hostTensor('int16', [1], new Int16Array([-300]))],
    ['c', hostTensor('int8', [3], new Int8Array([-1, 0, 1]))], // odd byte count: later data unaligned
    ['u', hostTensor('uint8', [1], new Uint8Array([255]))],
    ['m', hostTensor('bool', [2], new Uint8Array([1, 0]))],
    ['empty', hostTensor('float32', [0, 4], new Float32Array(0))],
  ]);
}

/** A file with a hand-written header, to test the reader against the spec, not our writer. */
function fileWith(header: string | object, data: Uint8Array = new Uint8Array(0), lengthOverride?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(lengthOverride ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  it('round-trips every dtype, order and metadata', () => {
    const bytes = writeSafetensors(sample(), { format: 'pt', note: 'ü' });
    const back = readSafetensors(bytes);
    expect([...back.keys()]).toEqual([...sample().keys()]);
    expect(back).toEqual(sample());
    expect(openSafetensors(bytes).metadata).toEqual({ format: 'pt', note: 'ü' });
  });

  it('writes the documented layout: u64 length, space-padded JSON, data aligned to 8', () => {
    const bytes = writeSafetensors(new Map([['x', hostTensor('float32', [1], new Float32Array([1]))]]));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const json = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(json.startsWith('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}')).toBe(true);
    expect(json.trimEnd().length + (n - json.trimEnd().length)).toBe(n);
    expect(bytes.subarray(8 + n)).toEqual(new Uint8Array(new Float32Array([1]).buffer));
  });

  it('reads a hand-written file and widens F16/BF16 to float32', () => {
    const data = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f]); // f16 1, f16 -2, bf16 1
    const sd = readSafetensors(
      fileWith({ a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'BF16', shape: [], data_offsets: [4, 6] } }, data),
    );
    expect(sd.get('a')).toEqual({ dtype: 'float16', shape: [2], data: new Float32Array([1, -2]) });
    expect(sd.get('b')).toEqual({ dtype: 'bfloat16', shape: [], data: new Float32Array([1]) });
  });

  it('orders tensors by data offset, i.e. the order they were written in', () => {
    const sd = readSafetensors(
      fileWith({ '1': { dtype: 'U8', shape: [1], data_offsets: [1, 2] }, z: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array([5, 6])),
    );
    expect([...sd.keys()]).toEqual(['z', '1']);
  });

  const f32 = (begin: number, end: number, shape = [1]) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
  const bad: [string, Uint8Array, RegExp][] = [
    ['shorter than the length field', new Uint8Array(5), /too short for the 8-byte header length/],
    ['a header length past the end', fileWith({ x: f32(0, 4) }, new Uint8Array(4), 1000), /header says 1000 bytes .* \(truncated\?\)/],
    ['a huge header length', fileWith('{}', undefined, 2 ** 40), /header length .* is implausible/],
    ['invalid JSON', fileWith('{"x": '), /not valid UTF-8 JSON/],
    ['a header that is not an object', fileWith('{}'.replace('{}', '[1]')), /does not start with "\{"/],
    ['an unsupported dtype', fileWith({ x: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /unsupported dtype "F8_E4M3"/],
    ['a bad shape', fileWith({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /invalid shape/],
    [
      'offsets that disagree with shape x dtype',
      fileWith({ x: f32(0, 8) }, new Uint8Array(8)),
      /shape \[1\] of F32 needs 4 bytes but data_offsets \[0,8\] span 8/,
    ],
    ['reversed offsets', fileWith({ x: f32(4, 0) }, new Uint8Array(4)), /invalid data_offsets/],
    ['overlapping tensors', fileWith({ x: f32(0, 8, [2]), y: f32(4, 8) }, new Uint8Array(8)), /overlaps the previous tensor/],
    ['a hole between tensors', fileWith({ x: f32(0, 4), y: f32(8, 12) }, new Uint8Array(12)), /hole in the data: bytes 4\.\.8/],
    ['truncated data', fileWith({ x: f32(0, 4), y: f32(4, 8) }, new Uint8Array(6)), /need 8 data bytes but the file has only 6 \(truncated\?\)/],
    ['trailing garbage', fileWith({ x: f32(0, 4) }, new Uint8Array(5)), /1 trailing bytes/],
    ['non-string metadata', fileWith({ __metadata__: { a: 1 } }), /__metadata__\.a is not a string/],
  ];
  for (const [what, bytes, message] of bad) {
    it(`rejects ${what} with an error naming the file`, () => {
      expect(() => readSafetensors(bytes, { name: 'bad.safetensors' })).toThrow(WeightFormatError);
      expect(() => readSafetensors(bytes, { name: 'bad.safetensors' })).toThrow(message);
      expect(() => readSafetensors(bytes, { name: 'bad.safetensors' })).toThrow(/^bad\.safetensors: safetensors: /);
    });
  }

  it('writes and reads files by path, streaming lazily-loaded tensors', () => {
    const path = join(dir, 'a.safetensors');
    let loads = 0;
    const lazy = [...sample()].map(([name, t]) => ({
      name,
      dtype: t.dtype,
      shape: t.shape,
      load: () => {
        loads++;
        return t;
      },
    }));
    writeSafetensorsFile(path, lazy, { k: 'v' });
    expect(loads).toBe(lazy.length);
    expect(readFileSync(path)).toEqual(Buffer.from(writeSafetensors(sample(), { k: 'v' })));
    expect(readSafetensors(path)).toEqual(sample());
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, new Uint8Array(readFileSync(path)).subarray(0, -3));
    expect(() => readSafetensors(cut)).toThrow(new RegExp(`^${cut}: safetensors: .*truncated`));
  });

  it('writes a tensor given in flat parts as it writes one loaded whole, and refuses parts of the wrong length', async () => {
    const path = join(dir, 'parts.safetensors');
    const partsOf = (t: HostTensor, cuts: number[]) =>
      async function* () {
        let at = 0;
        for (const end of [...cuts, t.data.length]) {
          yield { dtype: t.dtype, shape: [end - at], data: (t.data as Float32Array).subarray(at, end) } as HostTensor;
          at = end;
        }
      };
    const whole = sample();
    // float32, float16 (narrowed part by part) and bfloat16 in uneven parts, the rest loaded whole.
    const cuts: Record<string, number[]> = { 'conv.weight': [1, 3], h: [2], bf: [1] };
    const lazy = [...whole].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, load: cuts[name] ? partsOf(t, cuts[name]) : () => t }));
    await writeSafetensorsFileAsync(path, lazy, { k: 'v' });
    expect(readFileSync(path)).toEqual(Buffer.from(writeSafetensors(whole, { k: 'v' })));
    const conv = whole.get('conv.weight')!;
    const oneTensor = (shape: number[], data: Float32Array, at: number[]) => [
      { name: 'conv.weight', dtype: conv.dtype, shape, load: partsOf({ ...conv, data }, at) },
    ];
    const four = conv.data as Float32Array;
    // An empty last part is fine.
    await writeSafetensorsFileAsync(join(dir, 'ok.safetensors'), oneTensor([2, 1, 2], four, [1, 4]));
    expect(readSafetensors(join(dir, 'ok.safetensors')).get('conv.weight')).toEqual(conv);
    await expect(writeSafetensorsFileAsync(join(dir, 'short.safetensors'), oneTensor([2, 1, 2], four.subarray(0, 3), [1]))).rejects.toThrow(
      /tensor conv.weight: shape \[2,1,2\] needs 4 values, its parts held 3/,
    );
    await expect(writeSafetensorsFileAsync(join(dir, 'long.safetensors'), oneTensor([3], four, [2]))).rejects.toThrow(/needs 3 values, its parts held 4/);
    expect(readdirSync(dir).filter((f) => /^(short|long)/.test(f))).toEqual([]);
  });

  it('leaves no partial file behind when writing fails', () => {
    const path = join(dir, 'fail.safetensors');
    const boom = {
      name: 'x',
      dtype: 'float32' as const,
      shape: [1],
      load: (): never => {
        throw new Error('boom');
      },
    };
    expect(() => writeSafetensorsFile(path, [boom])).toThrow('boom');
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('fail'))).toEqual([]);
  });

  it('refuses data whose length does not match its shape', () => {
    const wrong = new Map([['x', { dtype: 'float32' as const, shape: [3], data: new Float32Array(2) }]]);
    expect(() => writeSafetensors(wrong)).toThrow(/shape \[3\] needs 3 values, data has 2/);
  });
});
