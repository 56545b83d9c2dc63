/**
 * CSV as RFC 4180 writes it: a field holding a comma, a double quote, CR or LF (or leading or
 * trailing spaces, which some readers trim) is wrapped in double quotes, with its quotes doubled.
 * Lines end in LF (what history.csv and most Unix tools use; every CSV reader accepts it).
 */

export type CsvValue = string | number | boolean | null | undefined;

export function csvField(value: CsvValue): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A header row and data rows as CSV text (each row as long as the header). */
export function formatCsv(header: readonly string[], rows: Iterable<readonly CsvValue[]>): string {
  const lines = [header.map(csvField).join(',')];
  for (const row of rows) {
    if (row.length !== header.length) throw new Error(`formatCsv: a row has ${row.length} fields, the header ${header.length}`);
    lines.push(row.map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}
