// The zip directory reader on archives we build ourselves, including zip64 forms.
import { describe, expect, it } from 'vitest';
import { memorySource } from '../src/weights/byteSource.ts';
import { readZipDirectory, zipEntryDataOffset } from '../src/weights/zip.ts';
import { buildZip } from './helpers/zipBuilder.ts';

const enc = new TextEncoder();
const entries = [
  { name: 'archive/data.pkl', data: enc.encode('pickle bytes') },
  { name: 'archive/data/0', data: new Uint8Array(1000).map((_, i) => i & 0xff) },
  { name: 'archive/version', data: enc.encode('3\n') },
];

describe('readZipDirectory', () => {
  for (const zip64 of [false, true]) {
    it(`lists entries and finds their data (${zip64 ? 'zip64' : 'plain'})`, () => {
      const src = memorySource(buildZip(entries, { zip64, extraLocalPadding: 7 }), 'a.zip');
      const listed = readZipDirectory(src);
      expect(listed.map((e) => [e.name, e.size, e.method])).toEqual(entries.map((e) => [e.name, e.data.length, 0]));
      for (const [i, e] of listed.entries()) expect(src.read(zipEntryDataOffset(src, e), e.size)).toEqual(entries[i].data);
    });
  }

  it('says the file is truncated when the end record is gone', () => {
    const z = buildZip(entries);
    expect(() => readZipDirectory(memorySource(z.subarray(0, z.length - 10), 'cut.zip'))).toThrow(/cut\.zip: zip: end-of-central-directory record not found/);
  });

  it('says so when an entry points past the end of the file', () => {
    const z = buildZip(entries);
    // keep the directory but drop the first entry's bytes by lying about the directory offset
    const src = memorySource(z, 'x.zip');
    const e = readZipDirectory(src)[1];
    expect(() => zipEntryDataOffset(src, { ...e, compressedSize: z.length })).toThrow(/x\.zip: zip: data of archive\/data\/0 .* runs past the end/);
  });
});
