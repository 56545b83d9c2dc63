/** Minimal GitHub-flavoured Markdown table writer; cells are escaped so a '|' in a name cannot split a column. */

export type Align = 'left' | 'right' | 'center';

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const rule = header.map((_, i) => ({ left: ':--', right: '--:', center: ':-:' })[align[i] ?? 'left']);
  const line = (cells: readonly string[]) => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(header), `|${rule.map((r) => ` ${r} `).join('|')}|`, ...rows.map(line)].join('\n');
}

/** 0.91234 -> '91.23%'; null/undefined/NaN -> '–' so missing values are visible, not zero. */
export function formatPercent(value: number | null | undefined, digits = 2): string {
  return value === null || value === undefined || Number.isNaN(value) ? '–' : `${(value * 100).toFixed(digits)}%`;
}

export function formatNumber(value: number | null | undefined, digits = 4): string {
  return value === null || value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits);
}

/**
 * A value with its 95% interval, compactly: '72.2% (55.6–84.2)', or '0.912 (0.850–0.960)' with
 * percent = false. The interval is left out where undefined (null), never shown as zeros.
 */
export function formatWithInterval(value: number | null | undefined, ci: { low: number; high: number } | null | undefined, percent = true): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  const f = (v: number) => (percent ? (v * 100).toFixed(1) : v.toFixed(3));
  const point = percent ? `${f(value)}%` : f(value);
  return ci ? `${point} (${f(ci.low)}–${f(ci.high)})` : point;
}
