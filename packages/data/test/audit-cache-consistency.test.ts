// The audit writes the training loader's cache entries from its own decode. Two ways that went
// wrong: a file replaced between the audit's read and the entry's key got the OLD pixels under its
// NEW key (every epoch then trained on the old image), and audit worker threads each counted the
// cache cap on their own, so N threads filled the folder up to N times the cap.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { auditDataset, cacheUsage, type AuditSample } from '../src/index.ts';
import { readForAudit } from '../src/audit/fileFacts.ts';
import { loadSource } from '../src/loader/process.ts';
import { tmpDir } from './helpers.ts';

// A hook run right after the audit's read of a file: lets a test replace the file at that moment.
const afterRead = vi.hoisted(() => new Map<string, () => void>());
vi.mock('../src/fsutil.ts', async (importOriginal) => {
  const m = await importOriginal<typeof import('../src/fsutil.ts')>();
  return {
    ...m,
    readBytes: async (file: string) => {
      const b = await m.readBytes(file);
      const hook = afterRead.get(file);
      if (hook) {
        afterRead.delete(file);
        hook();
      }
      return b;
    },
  };
});

const { dir, cleanup } = tmpDir('audit-cache-consistency');
afterAll(cleanup);

function greyPng(width: number, height: number, sample: (i: number) => number): Buffer {
  const data = Buffer.from(Uint8Array.from({ length: width * height }, (_, i) => sample(i)));
  return PNG.sync.write({ width, height, data } as PNG, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
}

describe('audit-filled cache entries', () => {
  it('a file replaced while the audit reads it is never served with its old pixels', async () => {
    const file = path.join(dir, 'replaced.png');
    writeFileSync(
      file,
      greyPng(8, 8, () => 10),
    );
    // the file is rewritten (new content, new mtime/ctime) just after the audit has read it
    afterRead.set(file, () =>
      writeFileSync(
        file,
        greyPng(8, 8, () => 200),
      ),
    );
    const cfg = { dir: path.join(dir, 'cache-replaced'), size: 256 };
    await readForAudit(file, { imageCache: cfg });
    const r = await loadSource(file, cfg);
    // old code: a cache hit holding 10/255 everywhere
    expect(Math.round(r.image.data[0] * 255)).toBe(200);
    expect(Math.round(r.image.data[63] * 255)).toBe(200);
  });

  it('audit worker threads share one cap: the folder never grows past it', async () => {
    const root = path.join(dir, 'capped');
    mkdirSync(root, { recursive: true });
    const samples: AuditSample[] = Array.from({ length: 40 }, (_, i) => {
      const file = path.join(root, `${i}.png`);
      writeFileSync(
        file,
        greyPng(64, 64, (j) => (j * 7 + i * 13) & 255),
      );
      return { file, label: i % 2 ? 'a' : 'b', split: 'train' };
    });
    const entry = 16 + 64 * 64; // one 8-bit grey 64x64 entry
    const config = { dir: path.join(dir, 'cache-capped'), size: 256, maxBytes: entry * 10 };
    await auditDataset(samples, { workers: 2, imageCache: { config, files: new Set(samples.map((s) => s.file)) } });
    const used = cacheUsage(config.dir);
    // old code: each thread allowed the whole cap (e.g. 15 entries, 61680 bytes for a 41120-byte cap)
    expect(used.bytes).toBeLessThanOrEqual(config.maxBytes);
    expect(used.files).toBe(10);
  });
});
