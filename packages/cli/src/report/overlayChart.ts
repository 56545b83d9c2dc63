/**
 * Overlay of validation curves across the runs of an experiment (experiments report): one line
 * per run, accuracy and loss panels. Only validation curves are drawn because with 13 runs the
 * train curves would double the lines and make the comparison unreadable.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { HistoryRow } from '../run/historyCsv.ts';
import { chartConfig, renderVegaLitePng } from './renderChart.ts';

export interface RunHistory {
  name: string;
  history: readonly HistoryRow[];
}

interface OverlayPoint {
  run: string;
  epoch: number;
  value: number;
}

function panel(title: string, yTitle: string, points: OverlayPoint[], runNames: string[], asPercent: boolean, maxEpoch: number) {
  return {
    title,
    width: 340,
    height: 260,
    data: { values: points },
    mark: { type: 'line' as const, point: { size: 18 }, strokeWidth: 1.8 },
    encoding: {
      x: {
        field: 'epoch',
        type: 'quantitative' as const,
        title: 'Epoch',
        scale: { domain: [1, Math.max(2, maxEpoch)], nice: false, padding: 8 },
        axis: { tickMinStep: 1, format: 'd' },
      },
      y: {
        field: 'value',
        type: 'quantitative' as const,
        title: yTitle,
        scale: { zero: false, padding: 8 },
        // labelFlush keeps the top tick label inside the plot box, so both panel titles sit at the same height.
        axis: { format: asPercent ? '.0%' : '.3~f', labelFlush: true },
      },
      // category20 has enough distinct colours for the 13 runs of the seed study.
      color: {
        field: 'run',
        type: 'nominal' as const,
        title: 'Run',
        sort: runNames,
        legend: { labelLimit: 400 },
        scale: { scheme: runNames.length > 10 ? 'category20' : 'tableau10' },
      },
    },
  };
}

export function overlaySpec(runs: readonly RunHistory[], title = 'Validation curves across runs'): TopLevelSpec {
  const accuracy: OverlayPoint[] = [];
  const loss: OverlayPoint[] = [];
  let maxEpoch = 1;
  for (const run of runs) {
    for (const r of run.history) {
      maxEpoch = Math.max(maxEpoch, r.epoch);
      if (Number.isFinite(r.valAccuracy)) accuracy.push({ run: run.name, epoch: r.epoch, value: r.valAccuracy });
      if (Number.isFinite(r.valLoss)) loss.push({ run: run.name, epoch: r.epoch, value: r.valLoss });
    }
  }
  const names = runs.map((r) => r.name);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config: chartConfig,
    title: { text: title, fontSize: 15 },
    hconcat: [panel('Validation accuracy', 'Accuracy', accuracy, names, true, maxEpoch), panel('Validation loss', 'Loss', loss, names, false, maxEpoch)],
    spacing: 30,
    resolve: { legend: { color: 'shared' } },
  } as TopLevelSpec;
}

export async function renderOverlayPng(runs: readonly RunHistory[], title?: string): Promise<Buffer> {
  if (!runs.some((r) => r.history.length > 0)) throw new Error('overlay: no run has any epoch to draw');
  return renderVegaLitePng(overlaySpec(runs, title));
}
