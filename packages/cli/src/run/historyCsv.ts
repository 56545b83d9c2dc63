/**
 * history.csv: one row per finished epoch. It is rewritten atomically on every append (it is tiny)
 * and a row for an epoch already present replaces it, so a resumed run that repeats an
 * interrupted epoch never leaves duplicate or half-written rows.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomicWrite.ts';
import { formatCsv } from './csv.ts';

export interface HistoryRow {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number;
  valAccuracy: number;
  /** Learning rate used during the epoch. */
  lr: number;
  /** Wall time of the epoch in seconds (train + validation). */
  seconds: number;
}

export const historyFileName = 'history.csv';
export const historyColumns: readonly (keyof HistoryRow)[] = ['epoch', 'trainLoss', 'trainAccuracy', 'valLoss', 'valAccuracy', 'lr', 'seconds'];

export function formatHistoryCsv(rows: readonly HistoryRow[]): string {
  return formatCsv(
    historyColumns,
    rows.map((row) => historyColumns.map((c) => row[c])),
  );
}

export function parseHistoryCsv(text: string, source = historyFileName): HistoryRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) return [];
  const header = lines[0].split(',').map((h) => h.trim());
  const missing = historyColumns.filter((c) => !header.includes(c));
  if (missing.length > 0) throw new Error(`${source}: missing column(s) ${missing.join(', ')}; delete the file or rerun with --force`);
  return lines.slice(1).map((line, k) => {
    const cells = line.split(',');
    const row = {} as HistoryRow;
    for (const column of historyColumns) {
      const cell = cells[header.indexOf(column)]?.trim() ?? '';
      // Number('') is 0: an empty cell would read as a loss of 0.
      const value = cell === '' ? Number.NaN : Number(cell);
      if (Number.isNaN(value) && cell !== 'NaN') {
        throw new Error(`${source}: line ${k + 2} has a non-numeric ${column}; delete the file or rerun with --force`);
      }
      row[column] = value;
    }
    return row;
  });
}

export function readHistory(runDir: string): HistoryRow[] {
  const path = join(runDir, historyFileName);
  return existsSync(path) ? parseHistoryCsv(readFileSync(path, 'utf8'), path) : [];
}

/** Adds (or replaces) the row for `row.epoch` and keeps rows sorted by epoch. */
export function appendHistory(runDir: string, row: HistoryRow): HistoryRow[] {
  const rows = readHistory(runDir).filter((r) => r.epoch !== row.epoch);
  rows.push(row);
  rows.sort((a, b) => a.epoch - b.epoch);
  writeFileAtomic(join(runDir, historyFileName), formatHistoryCsv(rows));
  return rows;
}

/** Drops rows after `lastEpoch`, for a resume from a checkpoint older than the history. */
export function truncateHistory(runDir: string, lastEpoch: number): HistoryRow[] {
  const rows = readHistory(runDir).filter((r) => r.epoch <= lastEpoch);
  writeFileAtomic(join(runDir, historyFileName), formatHistoryCsv(rows));
  return rows;
}

/** Replaces history.csv with `rows` (a resumed run's rows, as its checkpoint recorded them). */
export function writeHistory(runDir: string, rows: readonly HistoryRow[]): void {
  writeFileAtomic(join(runDir, historyFileName), formatHistoryCsv(rows));
}

/**
 * Rows as a checkpoint's JSON holds them: JSON has no NaN (an epoch whose training batches were
 * all skipped has a NaN loss), so it wrote null; read back as NaN, as history.csv says it.
 */
export function historyFromJson(rows: readonly Record<keyof HistoryRow, number | null>[]): HistoryRow[] {
  return rows.map((r) => Object.fromEntries(historyColumns.map((c) => [c, r[c] ?? Number.NaN])) as unknown as HistoryRow);
}
