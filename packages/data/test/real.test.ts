import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage, loadImageFolder, parseCsv, readImageHeader, sniffFormat } from '../src/index.ts';
import { REAL_ROOT, realDataAvailable, type ManifestRow } from './helpers.ts';

const have = realDataAvailable();

function manifest(): ManifestRow[] {
  const rows = parseCsv(readFileSync(path.join(REAL_ROOT, 'manifest.csv'), 'utf8'));
  const h = rows.shift()!;
  const col = (r: string[], name: string): string => r[h.indexOf(name)];
  return rows.map((r) => ({
    split: col(r, 'split'),
    class: col(r, 'class'),
    file: col(r, 'file'),
    width: Number(col(r, 'width')),
    height: Number(col(r, 'height')),
    mode: col(r, 'mode'),
    bitDepth: Number(col(r, 'bit_depth')),
    format: col(r, 'format'),
    notes: col(r, 'notes'),
  }));
}

const read = (f: string): Uint8Array => new Uint8Array(readFileSync(path.join(REAL_ROOT, f)));

describe.skipIf(!have)('cxr-real: every file loads', () => {
  it('decodes all files with the manifest dimensions and channel counts', () => {
    const rows = manifest();
    expect(rows.length).toBe(352);
    const failures: string[] = [];
    for (const r of rows) {
      const bytes = read(r.file);
      const hdr = readImageHeader(bytes, r.file);
      const img = decodeImage(bytes, r.file);
      if (img.width !== r.width || img.height !== r.height) failures.push(`${r.file}: ${img.width}x${img.height}, manifest ${r.width}x${r.height}`);
      if (hdr.width !== r.width || hdr.height !== r.height) failures.push(`${r.file}: header ${hdr.width}x${hdr.height}`);
      const expectChannels = r.mode === 'L' ? 1 : 3;
      if (img.channels !== expectChannels) failures.push(`${r.file}: ${img.channels} channels for mode ${r.mode}`);
      if (img.data.length !== r.width * r.height * img.channels) failures.push(`${r.file}: data length ${img.data.length}`);
      // spot-check range and that the image is not blank
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < img.data.length; i += 97) {
        lo = Math.min(lo, img.data[i]);
        hi = Math.max(hi, img.data[i]);
      }
      if (!(lo >= 0 && hi <= 1 && hi - lo > 0.2)) failures.push(`${r.file}: suspicious range ${lo}..${hi}`);
    }
    expect(failures).toEqual([]);
  });

  it('sniffs the PNG named .jpg by its magic bytes', () => {
    const f = 'train/infected/ieee8023__10.1016-slash-j.healun.2020.04.004.jpg';
    const bytes = read(f);
    expect(sniffFormat(bytes)).toBe('png');
    const img = decodeImage(bytes, f);
    expect(img.channels).toBe(1);
  });

  it('scales the 16-bit RGBA PNG exactly (not truncated to 8 bits)', () => {
    const f = 'test/infected/ieee8023__23E99E2E-447C-46E5-8EB2-D35D12473C39.png';
    const img = decodeImage(read(f), f);
    expect(img.channels).toBe(3);
    let notMultipleOf257 = 0;
    let off = 0;
    for (let i = 0; i < img.data.length; i += 7) {
      const v = img.data[i] * 65535;
      off = Math.max(off, Math.abs(v - Math.round(v)));
      if (Math.round(v) % 257 !== 0) notMultipleOf257++;
    }
    expect(off).toBeLessThan(0.02); // float32 of k/65535 times 65535
    // a truncating decoder would give only multiples of 257 (k/255)
    expect(notMultipleOf257).toBeGreaterThan(100);
  });

  it('decodes palette PNGs, partial alpha, a JPEG with a stray byte after EOI, and progressive JPEGs', () => {
    const rows = manifest();
    for (const f of ['train/infected/ieee8023__tpmd200203f2-b.png', 'train/infected/ieee8023__tpmd200203f2-c.png']) {
      const img = decodeImage(read(f), f);
      expect(img.channels).toBe(3);
    }
    const alpha = 'train/infected/ieee8023__16745_7_1.png';
    expect(decodeImage(read(alpha), alpha).channels).toBe(3);
    const stray = 'train/infected/ieee8023__covid-19-pneumonia-progression-and-regression-day11.jpg';
    const sb = read(stray);
    expect(sb[sb.length - 3]).toBe(0xff); // EOI is not the last two bytes
    expect(decodeImage(sb, stray).width).toBeGreaterThan(0);
    const prog = rows.filter((r) => r.format === 'JPEG' && r.notes.includes('progressive'));
    expect(prog.length).toBe(12);
    for (const r of prog) expect(readImageHeader(read(r.file), r.file).progressive).toBe(true);
  });

  it('loads as an ImageFolder with the README counts per split and class', async () => {
    const logs: string[] = [];
    const ds = await loadImageFolder(REAL_ROOT, { log: (m) => logs.push(m) });
    expect(ds.classes).toEqual(['infected', 'normal']);
    expect(ds.splitSource).toBe('folders');
    const rows = manifest();
    const expected: Record<string, Record<string, number>> = {};
    for (const r of rows) {
      expected[r.split] ??= {};
      expected[r.split][r.class] = (expected[r.split][r.class] ?? 0) + 1;
    }
    expect(ds.counts()).toEqual(expected);
    expect(ds.counts().train).toEqual({ infected: 123, normal: 120 });
    expect(logs.join('\n')).toContain('train');
    expect(ds.skipped).toEqual([]);
  });
});
