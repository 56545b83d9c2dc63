import { describe, expect, it } from 'vitest';
import { parseCsv } from '@cxr/data';
import { csvField, formatCsv } from '../src/run/csv.ts';

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

  it("round-trips awkward file and class names through @cxr/data's RFC 4180 reader", () => {
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
