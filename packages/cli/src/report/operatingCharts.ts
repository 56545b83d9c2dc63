/**
 * roc.png, pr.png and calibration.png: the ROC and precision-recall curves of the final split
 * with the chosen operating point marked and the AUC (with its 95% interval) in the title, and
 * the reliability diagram (accuracy per confidence bin against the diagonal) before and after
 * temperature scaling.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Calibration } from '../metrics/calibration.ts';
import type { Interval } from '../metrics/intervals.ts';
import type { PrPoint } from '../metrics/precisionRecall.ts';
import type { RocPoint } from '../metrics/rocAuc.ts';
import { chartConfig, renderVegaLitePng } from './renderChart.ts';

const schema = 'https://vega.github.io/schema/vega-lite/v5.json';
const fmt = (v: number) => v.toFixed(3);
const ciText = (ci: Interval | null) => (ci ? ` (95% CI ${fmt(ci.low)}-${fmt(ci.high)})` : '');

function curveSpec(
  title: string,
  x: string,
  y: string,
  line: { x: number; y: number }[],
  point: { x: number; y: number } | null,
  diagonal: boolean,
): TopLevelSpec {
  const axis = (t: string) => ({ title: t, scale: { domain: [0, 1] }, axis: { format: '.1f' } });
  const layers: object[] = [];
  if (diagonal)
    layers.push({
      data: {
        values: [
          { x: 0, y: 0 },
          { x: 1, y: 1 },
        ],
      },
      mark: { type: 'line', strokeDash: [4, 4], color: '#999' },
      encoding: { x: { field: 'x', type: 'quantitative', ...axis(x) }, y: { field: 'y', type: 'quantitative', ...axis(y) } },
    });
  layers.push({
    data: { values: line },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2, color: '#1f77b4' },
    encoding: {
      x: { field: 'x', type: 'quantitative', ...axis(x) },
      y: { field: 'y', type: 'quantitative', ...axis(y) },
      order: { field: 'k', type: 'quantitative' },
    },
  });
  if (point)
    layers.push({
      data: { values: [point] },
      mark: { type: 'point', filled: true, size: 90, color: '#d62728' },
      encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
    });
  return { $schema: schema, config: chartConfig, title, width: 320, height: 300, layer: layers } as TopLevelSpec;
}

export function renderRocPng(
  points: readonly RocPoint[],
  auc: number | null,
  ci: Interval | null,
  operating: { fpr: number; tpr: number } | null,
  split: string,
): Promise<Buffer> {
  const line = points.map((p, k) => ({ x: p.fpr, y: p.tpr, k }));
  const title = `ROC (${split}): AUC ${auc === null ? 'n/a' : fmt(auc)}${ciText(ci)}`;
  return renderVegaLitePng(
    curveSpec(
      title,
      'False positive rate (1 - specificity)',
      'True positive rate (sensitivity)',
      line,
      operating ? { x: operating.fpr, y: operating.tpr } : null,
      true,
    ),
  );
}

export function renderPrPng(
  points: readonly PrPoint[],
  ap: number,
  ci: Interval | null,
  operating: { recall: number; precision: number } | null,
  split: string,
): Promise<Buffer> {
  const line = [{ x: 0, y: points[0]?.precision ?? 1, k: -1 }, ...points.map((p, k) => ({ x: p.recall, y: p.precision, k }))];
  return renderVegaLitePng(
    curveSpec(
      `Precision-recall (${split}): AP ${fmt(ap)}${ciText(ci)}`,
      'Recall (sensitivity)',
      'Precision (PPV)',
      line,
      operating ? { x: operating.recall, y: operating.precision } : null,
      false,
    ),
  );
}

export function renderCalibrationPng(before: Calibration, after: Calibration | null, split: string): Promise<Buffer> {
  const rows = (c: Calibration, name: string) =>
    c.bins.filter((b) => b.count > 0).map((b) => ({ confidence: b.confidence, accuracy: b.accuracy, count: b.count, model: name }));
  const values = [...rows(before, `as trained (ECE ${fmt(before.ece)})`), ...(after ? rows(after, `temperature-scaled (ECE ${fmt(after.ece)})`) : [])];
  const axis = (t: string) => ({ title: t, scale: { domain: [0, 1] }, axis: { format: '.1f' } });
  return renderVegaLitePng({
    $schema: schema,
    config: chartConfig,
    title: `Reliability diagram (${split}, 15 bins)`,
    width: 320,
    height: 300,
    layer: [
      {
        data: {
          values: [
            { x: 0, y: 0 },
            { x: 1, y: 1 },
          ],
        },
        mark: { type: 'line', strokeDash: [4, 4], color: '#999' },
        encoding: {
          x: { field: 'x', type: 'quantitative', ...axis('Confidence (top-class probability)') },
          y: { field: 'y', type: 'quantitative', ...axis('Accuracy') },
        },
      },
      {
        data: { values },
        mark: { type: 'line', strokeWidth: 2 },
        encoding: {
          x: { field: 'confidence', type: 'quantitative' },
          y: { field: 'accuracy', type: 'quantitative' },
          color: { field: 'model', type: 'nominal', title: null, legend: { orient: 'bottom', direction: 'vertical', labelLimit: 400 } },
        },
      },
      // Point area grows with the number of images in the bin: a bin of two images says little.
      {
        data: { values },
        mark: { type: 'point', filled: true, opacity: 0.9 },
        encoding: {
          x: { field: 'confidence', type: 'quantitative' },
          y: { field: 'accuracy', type: 'quantitative' },
          color: { field: 'model', type: 'nominal', title: null },
          size: { field: 'count', type: 'quantitative', title: 'images in bin', scale: { range: [30, 400] }, legend: { orient: 'right' } },
        },
      },
    ],
  } as TopLevelSpec);
}
