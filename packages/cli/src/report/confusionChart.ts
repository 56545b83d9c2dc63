/**
 * confusion.png: heatmap of the confusion matrix in the study's orientation (rows actual,
 * columns predicted, positive class first). Each cell shows the count and its share of the
 * actual class (row percentage = per-class recall on the diagonal), which is what readers compare
 * across classes of different sizes; colour follows that share so imbalance does not hide errors.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ConfusionMatrix } from '../metrics/confusionMatrix.ts';
import { chartConfig, renderVegaLitePng } from './renderChart.ts';

interface Cell {
  actual: string;
  predicted: string;
  count: number;
  rowShare: number;
}

export function confusionCells(cm: ConfusionMatrix): Cell[] {
  const cells: Cell[] = [];
  cm.matrix.forEach((row, a) => {
    const total = row.reduce((s, v) => s + v, 0);
    row.forEach((count, p) => cells.push({ actual: cm.labels[a], predicted: cm.labels[p], count, rowShare: total === 0 ? 0 : count / total }));
  });
  return cells;
}

export function confusionSpec(cm: ConfusionMatrix, title = 'Confusion matrix'): TopLevelSpec {
  const cellSize = Math.max(70, Math.min(130, 420 / cm.labels.length));
  const axisLabels = { labelAngle: 0, labelFontSize: 12, grid: false, ticks: false, domain: false, labelPadding: 6 };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config: { ...chartConfig, view: { stroke: null } },
    title: { text: title, subtitle: 'count (% of actual class)', subtitleFontSize: 11, subtitleColor: '#555' },
    width: cellSize * cm.labels.length,
    height: cellSize * cm.labels.length,
    data: { values: confusionCells(cm) },
    encoding: {
      // Explicit sort keeps the study order instead of vega-lite's alphabetical default.
      x: { field: 'predicted', type: 'nominal', sort: cm.labels, title: 'Predicted', axis: { ...axisLabels, orient: 'top' } },
      y: { field: 'actual', type: 'nominal', sort: cm.labels, title: 'Actual', axis: axisLabels },
    },
    layer: [
      {
        // Grey outline so empty (white) cells still read as cells.
        mark: { type: 'rect', stroke: '#c8c8c8', strokeWidth: 1 },
        encoding: {
          color: {
            field: 'rowShare',
            type: 'quantitative', // White at 0% (the 'blues' scheme starts light blue, which reads as "some").
            scale: { domain: [0, 1], range: ['#ffffff', '#08519c'], interpolate: 'rgb' },
            legend: null,
          },
        },
      },
      {
        transform: [{ calculate: "[format(datum.count, ',d'), '(' + format(datum.rowShare, '.1%') + ')']", as: 'label' }],
        mark: { type: 'text', fontSize: 15, lineHeight: 20, baseline: 'middle' },
        encoding: {
          text: { field: 'label' },
          // Light text on dark cells, dark text on light cells, for contrast.
          color: { condition: { test: 'datum.rowShare > 0.55', value: 'white' }, value: '#111' },
        },
      },
    ],
  } as TopLevelSpec;
}

export async function renderConfusionPng(cm: ConfusionMatrix, title?: string): Promise<Buffer> {
  return renderVegaLitePng(confusionSpec(cm, title));
}
