/** The line printed after each epoch, so logs keep per-epoch numbers once the bar is gone. */
import type { HistoryRow } from '../run/historyCsv.ts';

export function formatEpochSummary(row: HistoryRow, epochs: number, isBest = false): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  return (
    `epoch ${row.epoch}/${epochs}: train loss ${row.trainLoss.toFixed(4)} acc ${pct(row.trainAccuracy)}` +
    ` | val loss ${row.valLoss.toFixed(4)} acc ${pct(row.valAccuracy)} | lr ${row.lr.toExponential(1)} | ${row.seconds.toFixed(1)} s` +
    (isBest ? ' | best so far, saved' : '')
  );
}
