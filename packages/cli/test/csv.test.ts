import { describe, expect, it } from 'vitest';
import { csvField, formatCsv } from '../src/run/csv.ts';

/** A strict RFC 4180 reader, to check that what we write reads back field for field. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') {
      if (field !== '') throw new Error(`quote inside an unquoted field at ${i}`);
      quoted = true;
    } else if (ch === ',') { row.push(field); field = ''; } else if (ch === '\n') { row.push(field); rows.push(row); row = []; field = ''; } else field += ch;
  }
  if (quoted) throw new Error('unterminated quote');
  return rows;
}

describe('CSV writer (RFC 4180 quoting)', () => {
  it('quotes only what needs it, doubling quotes', () => {
    expect(csvField('plain/file.png')).toBe('plain/file.png');
    expect(csvField(0.5)).toBe('0.5');
    expect(csvField(null)).toBe('');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(' padded')).toBe('" padded"');
    // JSON.stringify, used before, wrote "a\\"b" with a backslash: not CSV.
    expect(csvField('a"b')).not.toBe(JSON.stringify('a"b'));
  });

  it('round-trips awkward file and class names through a strict reader', () => {
    const header = ['split', 'file', 'label', 'p_COVID, "confirmed"'];
    const rows = [
      ['test', 'scans/patient 1, left "AP".png', 'COVID, "confirmed"', '0.250000'],
      ['val', 'crlf\r\nname.jpg', 'normal', '1.000000'],
      ['train', 'ünïcödé ✓.png', 'normal', '0'],
    ];
    expect(parseCsv(formatCsv(header, rows))).toEqual([header, ...rows]);
    expect(() => formatCsv(header, [['only', 'three', 'fields']])).toThrow(/a row has 3 fields, the header 4/);
  });
});
