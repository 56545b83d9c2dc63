// torch.save checkpoints in all three layouts, against values PyTorch itself wrote out
// (fixtures/odd_expected.json): strided views, shared storages, half types, 0-d int64,
// _metadata, whole-file truncation and malicious pickles.
import { describe, expect, it } from 'vitest';
import { memorySource } from '../src/weights/byteSource.ts';
import { WeightFormatError, detectTorchFormat, openTorchCheckpoint, readTorchCheckpoint } from '../src/weights/index.ts';
import { readTarEntries } from '../src/weights/tar.ts';
import { readZipDirectory, zipEntryDataOffset } from '../src/weights/zip.ts';
import { fixtureBytes, fixturePath, oddExpected, plainValues } from './helpers/fixtures.ts';
import { buildZip } from './helpers/zipBuilder.ts';
import { float32ToBfloat16, float32ToFloat16 } from '../src/weights/half.ts';

/** The 16-bit patterns of half-type values (held widened). */
function ckptHalfBits(dtype: string, values: Float32Array): Uint16Array {
  return dtype === 'float16' ? float32ToFloat16(values) : float32ToBfloat16(values);
}

const formats = ['zip', 'legacy', 'tar'] as const;

describe('readTorchCheckpoint', () => {
  for (const format of formats) {
    it(`reads the ${format} layout exactly, in state-dict order`, () => {
      const file = `odd_${format}.pth`;
      expect(detectTorchFormat(fixtureBytes(file))).toBe(format);
      const sd = readTorchCheckpoint(fixturePath(file));
      expect([...sd.keys()]).toEqual(Object.keys(oddExpected));
      for (const [name, want] of Object.entries(oddExpected)) {
        const t = sd.get(name)!;
        expect({ name, dtype: t.dtype, shape: t.shape }).toEqual({ name, dtype: want.dtype, shape: want.shape });
        expect(plainValues(t)).toEqual(want.values);
      }
    });

    it(`gives the same result from bytes as from a path (${format})`, () => {
      const a = readTorchCheckpoint(fixturePath(`odd_${format}.pth`));
      const b = readTorchCheckpoint(fixtureBytes(`odd_${format}.pth`));
      expect(b).toEqual(a);
    });

    it(`names the file and the problem for every truncation (${format})`, () => {
      const bytes = fixtureBytes(`odd_${format}.pth`);
      // A tar ends in zero padding that carries nothing; only cut where content is.
      const end = format === 'tar' ? Math.max(...readTarEntries(memorySource(bytes)).map((e) => e.offset + e.size)) : bytes.length;
      for (let cut = 0; cut < end; cut += Math.max(1, Math.floor(end / 97))) {
        expect(() => readTorchCheckpoint(bytes.subarray(0, cut), { name: 'cut.pth' }), `cut at ${cut}`).toThrow(/^cut\.pth: /);
      }
      expect(() => readTorchCheckpoint(bytes.subarray(0, end - 1), { name: 'cut.pth' })).toThrow(/^cut\.pth: .*(truncated|past the end|end of)/);
    });
  }

  it('readStored gives the stored bytes of every contiguous tensor, in any split; a strided view has none', () => {
    for (const format of formats) {
      const ckpt = openTorchCheckpoint(fixturePath(`odd_${format}.pth`));
      try {
        for (const lazy of ckpt.tensors) {
          if (lazy.name === 't') {
            expect(lazy.readStored, 'the transposed view').toBeUndefined();
            continue;
          }
          const data = lazy.load().data;
          const item = data.BYTES_PER_ELEMENT === 4 && (lazy.dtype === 'float16' || lazy.dtype === 'bfloat16') ? 2 : data.BYTES_PER_ELEMENT;
          const bytes = new Uint8Array(data.length * item);
          const cut = Math.floor(data.length / 2) * item;
          lazy.readStored!(bytes.subarray(0, cut), 0);
          lazy.readStored!(bytes.subarray(cut), cut);
          const expected =
            item === 2 ? new Uint8Array(ckptHalfBits(lazy.dtype, data as Float32Array).buffer) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
          expect(Array.from(bytes), `${format} ${lazy.name}`).toEqual(Array.from(expected));
        }
        const w = ckpt.tensors.find((t) => t.name === 'w')!;
        expect(() => w.readStored!(new Uint8Array(8), 20)).toThrow(/odd_\w+\.pth: tensor w: bytes 20\.\.28 are outside its 24/);
      } finally {
        ckpt.close();
      }
    }
  });

  it('exposes the OrderedDict _metadata torch uses for versioned modules', () => {
    const ckpt = openTorchCheckpoint(fixturePath('odd_zip.pth'));
    ckpt.close();
    expect([...ckpt.metadata!]).toEqual([
      ['', new Map([['version', 1]])],
      ['layer', new Map([['version', 2]])],
    ]);
  });

  it('loads lazily: opening reads headers only, each tensor is read on load()', () => {
    const ckpt = openTorchCheckpoint(fixturePath('odd_legacy.pth'));
    try {
      expect(ckpt.format).toBe('legacy');
      expect(ckpt.tensors.map((t) => t.name)).toEqual(Object.keys(oddExpected));
      const t = ckpt.tensors.find((x) => x.name === 't')!;
      expect(plainValues(t.load())).toEqual(oddExpected.t.values);
    } finally {
      ckpt.close();
    }
  });

  it('takes the state_dict out of a training checkpoint', () => {
    const sd = readTorchCheckpoint(fixturePath('training_zip.pth'));
    expect([...sd.keys()]).toEqual(['w']);
  });

  it('refuses a pickle that would run os.system, naming the global and the file (zip and legacy)', () => {
    for (const f of ['evil_zip.pth', 'evil_legacy.pth']) {
      expect(() => readTorchCheckpoint(fixturePath(f))).toThrow(WeightFormatError);
      expect(() => readTorchCheckpoint(fixturePath(f))).toThrow(new RegExp(`${f}: refusing forbidden global 'posix\\.system'`));
    }
  });

  it('refuses a whole pickled nn.Module and says to save a state_dict', () => {
    expect(() => readTorchCheckpoint(fixturePath('module_legacy.pth'))).toThrow(/forbidden global 'torch\.nn\.modules\.linear\.Linear'.*state_dict/);
  });

  it('rejects files that are not checkpoints', () => {
    expect(() => readTorchCheckpoint(new Uint8Array([1, 2, 3]), { name: 'x.bin' })).toThrow(/x\.bin: not a PyTorch checkpoint/);
    expect(() => readTorchCheckpoint(new Uint8Array(0), { name: 'empty.pth' })).toThrow(/empty\.pth/);
  });
});

/** Assembles bytes from opcode text (latin1) and raw byte arrays. */
function bytesOf(...parts: (string | Uint8Array)[]): Uint8Array {
  const arrays = parts.map((p) => (typeof p === 'string' ? Uint8Array.from(p, (c) => c.charCodeAt(0)) : p));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

describe('legacy files as 2017-era torch (Python 2) wrote them', () => {
  // Hand-assembled, because torch 1.13 can no longer write this flavour: py2 `str` keys
  // (SHORT_BINSTRING), torch._utils._rebuild_tensor without requires_grad, a CUDA storage type
  // and location, and a storage *view* (view_metadata), which modern torch never emits.
  const storage = (view: string) => `((U\x07storagectorch.cuda\nFloatStorage\nU\x03123U\x06cuda:0K\x04${view}tQ`;
  const rebuild = 'ctorch._utils\n_rebuild_tensor\n';
  const file = bytesOf(
    '\x80\x02\x8a\x0a',
    new Uint8Array([0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]),
    '.',
    '\x80\x02M\xe9\x03.',
    '\x80\x02}(U\x0dlittle_endian\x88u.',
    '\x80\x02ccollections\nOrderedDict\n)R(',
    `U\x01w${rebuild}${storage('N')}K\x00K\x02K\x02\x86K\x02K\x01\x86tR`,
    `U\x01v${rebuild}${storage('(U\x03124K\x01K\x02t')}K\x00K\x02\x85K\x01\x85tR`,
    'u.',
    '\x80\x02]U\x03123a.',
    new Uint8Array(new BigUint64Array([4n]).buffer),
    new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer),
  );

  it('reads them, including views on a root storage', () => {
    const sd = readTorchCheckpoint(file, { name: 'old.pth' });
    expect(sd.get('w')).toEqual({ dtype: 'float32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
    expect(sd.get('v')).toEqual({ dtype: 'float32', shape: [2], data: new Float32Array([2, 3]) });
  });

  it('rejects a data header that disagrees with the pickle', () => {
    const lying = file.slice();
    lying[lying.length - 24] = 5; // element count 5 instead of 4
    expect(() => readTorchCheckpoint(lying, { name: 'old.pth' })).toThrow(/old\.pth: storage 123 declares 4 elements but its data header says 5/);
  });
});

/** The entries of a zip fixture as (name, bytes), to re-pack in other forms. */
function unzip(bytes: Uint8Array) {
  const src = memorySource(bytes);
  return readZipDirectory(src).map((e) => ({ name: e.name, data: src.read(zipEntryDataOffset(src, e), e.size).slice() }));
}

describe('zip checkpoints, re-packed', () => {
  const entries = unzip(fixtureBytes('odd_zip.pth'));
  const reference = readTorchCheckpoint(fixturePath('odd_zip.pth'));

  it('reads zip64 archives (sizes and offsets only in zip64 extra fields and end record)', () => {
    const z = buildZip(entries, { zip64: true, extraLocalPadding: 13 });
    expect(readTorchCheckpoint(z)).toEqual(reference);
  });

  it('rejects a storage entry whose size disagrees with the pickle', () => {
    const lying = entries.map((e) => (e.name.endsWith('/data/0') ? { ...e, data: e.data.subarray(4) } : e));
    expect(() => readTorchCheckpoint(buildZip(lying), { name: 'lying.pth' })).toThrow(/lying\.pth: storage 0 should hold/);
  });

  it('rejects a zip without data.pkl', () => {
    const z = buildZip(entries.filter((e) => !e.name.endsWith('data.pkl')));
    expect(() => readTorchCheckpoint(z, { name: 'nopkl.pth' })).toThrow(/nopkl\.pth: zip has no data\.pkl/);
  });

  it('rejects a missing storage entry', () => {
    const z = buildZip(entries.filter((e) => !e.name.endsWith('/data/0')));
    expect(() => readTorchCheckpoint(z, { name: 'gone.pth' })).toThrow(/gone\.pth: storage 0 is missing/);
  });
});
