/**
 * curves.png: accuracy and loss per epoch, train vs validation, as two side-by-side panels like
 * the study's figures. Data is reshaped to long format (one row per epoch/metric/split) so a
 * single Vega-Lite layer draws both splits with a shared legend.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { HistoryRow } from '../run/historyCsv.ts';
import { chartConfig, renderVegaLitePng } from './renderChart.ts';

interface CurvePoint {
  epoch: number;
  split: 'train' | 'validation';
  value: number;
}

const splitColors = { domain: ['train', 'validation'], range: ['#1f77b4', '#ff7f0e'] };

function panel(title: string, yTitle: string, points: CurvePoint[], asPercent: boolean, maxEpoch: number) {
  return {
    title,
    width: 320,
    height: 240,
    data: { values: points },
    mark: { type: 'line' as const, point: { filled: true, size: 40 }, strokeWidth: 2 },
    encoding: {
      x: {
        field: 'epoch',
        type: 'quantitative' as const,
        title: 'Epoch',
        // Pixel padding keeps the first and last markers from being cut by the frame.
        scale: { domain: [1, Math.max(2, maxEpoch)], nice: false, padding: 10 },
        // Integer ticks only: fractional epochs mean nothing.
        axis: { tickMinStep: 1, format: 'd' },
      },
      y: {
        field: 'value',
        type: 'quantitative' as const,
        title: yTitle,
        scale: { zero: false, padding: 10 },
        // labelFlush keeps the top tick label inside the plot box, so both panel titles sit at the same height.
        axis: { format: asPercent ? '.0%' : '.3~f', labelFlush: true },
      },
      color: {
        field: 'split',
        type: 'nominal' as const,
        title: null,
        scale: splitColors,
        legend: { orient: 'top' as const, direction: 'horizontal' as const, symbolStrokeWidth: 3 },
      },
    },
  };
}

export function curvesSpec(history: readonly HistoryRow[], title?: string): TopLevelSpec {
  const accuracy: CurvePoint[] = [];
  const loss: CurvePoint[] = [];
  for (const r of history) {
    accuracy.push({ epoch: r.epoch, split: 'train', value: r.trainAccuracy }, { epoch: r.epoch, split: 'validation', value: r.valAccuracy });
    loss.push({ epoch: r.epoch, split: 'train', value: r.trainLoss }, { epoch: r.epoch, split: 'validation', value: r.valLoss });
  }
  // Non-finite losses (a diverged epoch) would break the scale; drop them from the drawing only.
  const finite = (p: CurvePoint) => Number.isFinite(p.value);
  const maxEpoch = history.reduce((m, r) => Math.max(m, r.epoch), 1);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config: chartConfig,
    ...(title ? { title: { text: title, fontSize: 15 } } : {}),
    hconcat: [panel('Model accuracy', 'Accuracy', accuracy.filter(finite), true, maxEpoch), panel('Model loss', 'Loss', loss.filter(finite), false, maxEpoch)],
    spacing: 30,
    // One legend for both panels, above them, so it never covers data or tick labels.
    resolve: { legend: { color: 'shared' } },
  } as TopLevelSpec;
}

export async function renderCurvesPng(history: readonly HistoryRow[], title?: string): Promise<Buffer> {
  if (history.length === 0) throw new Error('curves: the history has no epochs to draw');
  return renderVegaLitePng(curvesSpec(history, title));
}
