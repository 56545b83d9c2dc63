// Hostile weight files that are small on disk and huge (or slow) to decode, and files whose
// values are not numbers. Each reproduces a probe finding: a 759-byte expanded zero heading for
// 6.4 GB, a 256 KB pickle integer costing 38-70 s of CPU, a NaN checkpoint trained on silently.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { formatList, Linear } from '@cxr/nn';
import { Cursor, memorySource } from '../src/weights/byteSource.ts';
import { UnpicklingError, maxLongBytes, unpickle } from '../src/weights/pickle.ts';
import { convertCheckpoint, openTorchCheckpoint } from '../src/weights/index.ts';
import { loadWeights, NonFiniteWeightsError } from '../src/load.ts';
import { fixturePath } from './helpers/fixtures.ts';

function long4(payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const bytes = new Uint8Array(7 + n + 1);
  bytes.set([0x80, 0x02, 0x8b, n & 255, (n >> 8) & 255, (n >> 16) & 255, n >>> 24], 0);
  bytes.set(payload, 7);
  bytes[7 + n] = 0x2e; // STOP
  return bytes;
}
const load = (b: Uint8Array) =>
  unpickle(new Cursor(memorySource(b, 'long.pkl'), 0), {
    resolveGlobal: () => {
      throw new Error('no globals here');
    },
  });

describe('pickle integers', () => {
  it('a megabyte-long LONG4 is refused at once, naming the limit', () => {
    const t0 = performance.now();
    expect(() => load(long4(new Uint8Array(1 << 20).fill(7)))).toThrow(UnpicklingError);
    expect(() => load(long4(new Uint8Array(1 << 20)))).toThrow(`integer of ${1 << 20} bytes at byte 3 is longer than the ${maxLongBytes}-byte limit`);
    expect(performance.now() - t0).toBeLessThan(2000); // it used to take minutes (quadratic BigInt shifts)
  });
  it("integers up to the limit decode exactly, positive and negative (two's complement)", () => {
    const payload = Uint8Array.from({ length: maxLongBytes }, (_, i) => (i * 37 + 11) & 0xff);
    payload[maxLongBytes - 1] = 0x7f;
    let expected = 0n;
    for (let i = payload.length - 1; i >= 0; i--) expected = expected * 256n + BigInt(payload[i]);
    expect(load(long4(payload))).toBe(expected);
    payload[maxLongBytes - 1] = 0xff;
    expected += 0x80n << BigInt(8 * (maxLongBytes - 1));
    expect(load(long4(payload))).toBe(expected - (1n << BigInt(8 * maxLongBytes)));
    expect(load(long4(Uint8Array.from([0xff, 0xff])))).toBe(-1);
    expect(load(long4(Uint8Array.from([0x2c, 0x01])))).toBe(300);
  });
});

describe('expanded views', () => {
  it('a stride-0 view inflating 1 stored element to 1.6e9 is refused before anything is allocated', () => {
    const f = openTorchCheckpoint(fixturePath('expanded_zip.pth'));
    try {
      const small = f.tensors.find((t) => t.name === 'small')!.load();
      expect(Array.from(small.data as Float32Array)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]); // a small broadcast still loads
      const rss = process.memoryUsage().rss;
      expect(() => f.tensors.find((t) => t.name === 'w')!.load()).toThrow(
        /tensor w \[40000,40000\] \(stride \[0,0\]\) repeats 1 stored element\(s\) into 1600000000; views that inflate more than 16x/,
      );
      expect(process.memoryUsage().rss - rss).toBeLessThan(100 * 2 ** 20);
    } finally {
      f.close();
    }
    const out = join(mkdtempSync(join(tmpdir(), 'cxr-limits-')), 'w.safetensors');
    expect(() => convertCheckpoint(fixturePath('expanded_zip.pth'), out)).toThrow(/repeats 1 stored element/);
  });
});

describe('non-finite weights', () => {
  beforeAll(async () => {
    await T.getDevice();
  });
  afterAll(() => T.destroyDevice());
  it('a NaN checkpoint made by PyTorch is refused, naming the file and the tensor', async () => {
    const model = new Linear(5, 3);
    await expect(loadWeights(model, fixturePath('nonfinite_zip.pth'))).rejects.toThrow(NonFiniteWeightsError);
    await expect(loadWeights(model, fixturePath('nonfinite_zip.pth'))).rejects.toThrow(
      /nonfinite_zip\.pth: tensor weight holds NaN at element 0 \(non-finite weights/,
    );
    await expect(loadWeights(model, fixturePath('nonfinite_zip.pth'), { skip: (n) => n === 'weight', strict: false })).rejects.toThrow(
      /tensor bias holds Infinity/,
    );
  });
});

describe('key lists in messages', () => {
  it('a 200,000-key mismatch from loadWeights is one short message, not 2.7 MB', async () => {
    await T.getDevice();
    const model = new Linear(5, 3);
    const lazy = Array.from({ length: 200_000 }, (_, i) => ({
      name: `layer.${i}.weight`,
      dtype: 'float32' as const,
      shape: [1],
      load: () => {
        throw new Error('not read');
      },
    }));
    let message = '';
    try {
      await loadWeights(model, lazy);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/unexpected keys \(200000\): layer\.0\.weight, .* … and 199980 more/);
    expect(message).toMatch(/missing keys \(2\): weight, bias/);
    expect(message.length).toBeLessThan(2000);
  });
  it('are capped: a 200,000-key mismatch is one short line', () => {
    const keys = Array.from({ length: 200_000 }, (_, i) => `layer.${i}.weight`);
    const s = formatList(keys, 20);
    expect(s.length).toBeLessThan(500);
    expect(s).toMatch(/layer\.19\.weight … and 199980 more$/);
  });
});
