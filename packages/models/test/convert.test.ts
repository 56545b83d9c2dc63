// `cxr weights convert`: every torch.save layout becomes a safetensors file with the same
// names, order, dtypes and bits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertCheckpoint, openSafetensors, readSafetensors, readTorchCheckpoint } from '../src/weights/index.ts';
import { fixturePath } from './helpers/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'cxr-convert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('convertCheckpoint', () => {
  for (const format of ['zip', 'legacy', 'tar'] as const) {
    it(`converts the ${format} layout without changing a bit`, () => {
      const out = join(dir, `${format}.safetensors`);
      const result = convertCheckpoint(fixturePath(`odd_${format}.pth`), out);
      expect(result.format).toBe(format);
      const want = readTorchCheckpoint(fixturePath(`odd_${format}.pth`));
      expect(result.tensors).toBe(want.size);
      expect(readSafetensors(out)).toEqual(want);
      const st = openSafetensors(out);
      st.close();
      expect(st.metadata).toEqual({ format: 'pt', source: `odd_${format}.pth` });
    });
  }

  it('fails with the input named, and writes nothing, for a malicious checkpoint', () => {
    const out = join(dir, 'evil.safetensors');
    expect(() => convertCheckpoint(fixturePath('evil_zip.pth'), out)).toThrow(/evil_zip\.pth: refusing forbidden global/);
    expect(() => readSafetensors(out)).toThrow(/ENOENT/);
  });
});
