// The tar reader used for PyTorch <= 0.1.x checkpoints.
import { describe, expect, it } from 'vitest';
import { memorySource } from '../src/weights/byteSource.ts';
import { isTar, readTarEntries } from '../src/weights/tar.ts';
import { fixtureBytes } from './helpers/fixtures.ts';

describe('readTarEntries', () => {
  const bytes = fixtureBytes('odd_tar.pth');

  it('lists the four entries old torch.save wrote, in order', () => {
    expect(isTar(bytes)).toBe(true);
    expect(readTarEntries(memorySource(bytes)).map((e) => e.name)).toEqual(['sys_info', 'pickle', 'tensors', 'storages']);
  });

  it('detects a corrupted header by its checksum', () => {
    const bad = bytes.slice();
    bad[10] ^= 1;
    expect(() => readTarEntries(memorySource(bad, 'bad.tar'))).toThrow(/bad\.tar: tar: header at byte 0 has a bad checksum/);
  });
});
