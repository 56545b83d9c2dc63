import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { evaluatePredictions } from '../src/metrics/classificationMetrics.ts';
import { collectRuns } from '../src/experiments/collectRuns.ts';
import { seedStudyRuns } from '../src/experiments/seedStudy.ts';
import { formatComparisonTable, formatExperimentReport, formatLr } from '../src/report/comparisonTable.ts';
import { confusionCells, renderConfusionPng } from '../src/report/confusionChart.ts';
import { curvesSpec, renderCurvesPng } from '../src/report/curvesChart.ts';
import { toRgba } from '../src/report/imagePixels.ts';
import { formatWithInterval, markdownTable } from '../src/report/markdownTable.ts';
import { classificationIntervals } from '../src/metrics/classificationIntervals.ts';
import { z95 } from '../src/metrics/intervals.ts';
import { renderOverlayPng } from '../src/report/overlayChart.ts';
import { vegaLiteToSvg } from '../src/report/renderChart.ts';
import { formatRunReport } from '../src/report/runReport.ts';
import { selectSamples } from '../src/report/sampleSelection.ts';
import { renderSamplesPng, samplesSvg } from '../src/report/samplesGrid.ts';
import { appendHistory, type HistoryRow } from '../src/run/historyCsv.ts';
import { writeRunConfig, writeRunMetrics } from '../src/run/runFolder.ts';
import type { RunMetrics } from '../src/run/runMetrics.ts';
import { defaultTrainConfig } from '../src/config/trainConfig.ts';
import { calibration } from '../src/metrics/calibration.ts';
import { metricIntervals } from '../src/metrics/metricIntervals.ts';
import { type Evidence, oneVsRestAuc } from '../src/report/evidence.ts';
import { formatEvidenceReport } from '../src/report/evidenceReport.ts';
import { formatModelCard } from '../src/report/modelCard.ts';

const history: HistoryRow[] = Array.from({ length: 5 }, (_, i) => ({
  epoch: i + 1,
  trainLoss: 0.7 / (i + 1),
  trainAccuracy: 0.6 + i * 0.08,
  valLoss: 0.75 / (i + 1) + 0.05,
  valAccuracy: 0.58 + i * 0.07,
  lr: 1e-3,
  seconds: 3,
}));

function decode(png: Buffer) {
  expect([...png.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  return PNG.sync.read(png);
}

/** Share of pixels that are not (near) white: a blank or text-less picture would fail this. */
function inkShare(png: PNG): number {
  let ink = 0;
  for (let i = 0; i < png.data.length; i += 4) if (png.data[i] + png.data[i + 1] + png.data[i + 2] < 600) ink++;
  return ink / (png.width * png.height);
}

// classes in dataset order normal=0, infected=1; 12 samples with some mistakes.
const classNames = ['normal', 'infected'];
const labels = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
const pInfected = [0.95, 0.9, 0.8, 0.3, 0.2, 0.6, 0.1, 0.2, 0.7, 0.85, 0.05, 0.4];
const probs = pInfected.map((p) => [1 - p, p]);
const metrics = evaluatePredictions({ probs, labels, classNames });

describe('pictures', () => {
  it('curves.png has two panels with train and validation', async () => {
    const spec = curvesSpec(history) as { hconcat: unknown[] };
    expect(spec.hconcat).toHaveLength(2);
    const svg = await vegaLiteToSvg(curvesSpec(history));
    for (const text of ['Model accuracy', 'Model loss', 'train', 'validation', 'Epoch']) expect(svg).toContain(text);
    const png = decode(await renderCurvesPng(history));
    expect(png.width).toBeGreaterThan(1000);
    expect(inkShare(png)).toBeGreaterThan(0.01);
  });

  it('confusion.png shows counts and row percentages in study order', async () => {
    expect(confusionCells(metrics.confusion)[0]).toMatchObject({ actual: 'infected', predicted: 'infected', count: 4 });
    const png = decode(await renderConfusionPng(metrics.confusion, 'Test'));
    expect(inkShare(png)).toBeGreaterThan(0.05);
  });

  it('samples.png: two right and two wrong per class, from grayscale and RGB buffers', () => {
    const rows = selectSamples(probs, labels, classNames);
    expect(rows.map((r) => classNames[r.classIndex])).toEqual(['infected', 'normal']);
    expect(rows[0].right.map((c) => c.index)).toEqual([0, 1]); // most confident right
    expect(rows[0].wrong.map((c) => c.index)).toEqual([4, 3]); // most confident wrong: p(normal)=0.8, 0.7
    expect(rows[1].wrong.map((c) => c.index)).toEqual([9, 8]);
    const imageAt = (index: number) =>
      index % 2 === 0
        ? { pixels: new Uint8Array(32 * 24).fill(40 + index * 10), width: 32, height: 24, channels: 1 as const }
        : { pixels: new Float32Array(3 * 16 * 16).fill(0.5), width: 16, height: 16, channels: 3 as const, layout: 'chw' as const };
    const svg = samplesSvg(rows, { classNames, imageAt });
    expect(svg.match(/<image /g)).toHaveLength(8);
    expect(svg).toContain('pred: normal (80.0%)');
    const png = decode(renderSamplesPng(rows, { classNames, imageAt, title: 'samples' }));
    expect(png.width).toBeGreaterThan(600);
  });

  it('samples grid shows placeholders when a class has no mistakes', () => {
    const rows = selectSamples(
      [
        [0.9, 0.1],
        [0.1, 0.9],
      ],
      [0, 1],
      classNames,
    );
    const svg = samplesSvg(rows, { classNames, imageAt: () => ({ pixels: new Uint8Array(4), width: 2, height: 2, channels: 1 }) });
    expect(svg.match(/no more mistakes/g)).toHaveLength(4);
    expect(svg.match(/no more correct/g)).toHaveLength(2);
  });

  it('converts normalised CHW floats and bytes to RGBA', () => {
    const mean = [0.5, 0.5, 0.5];
    const std = [0.25, 0.25, 0.25];
    // one pixel, CHW: r=(1-0.5)/0.25=2, g=0, b=(0-0.5)/0.25=-2 -> 255, 128, 0
    expect([...toRgba({ pixels: new Float32Array([2, 0, -2]), width: 1, height: 1, channels: 3, layout: 'chw', normalization: { mean, std } })]).toEqual([
      255, 128, 0, 255,
    ]);
    expect([...toRgba({ pixels: new Uint8Array([10, 20, 30, 40, 50, 60]), width: 2, height: 1, channels: 3 })]).toEqual([10, 20, 30, 255, 40, 50, 60, 255]);
    expect([...toRgba({ pixels: new Uint8Array([7]), width: 1, height: 1, channels: 1 })]).toEqual([7, 7, 7, 255]);
    expect(() => toRgba({ pixels: new Uint8Array(3), width: 2, height: 2, channels: 1 })).toThrow(/do not fit/);
  });

  it('overlay across runs', async () => {
    const png = decode(
      await renderOverlayPng([
        { name: 'a', history },
        { name: 'b', history: history.slice(0, 3) },
      ]),
    );
    expect(inkShare(png)).toBeGreaterThan(0.01);
  });
});

describe('Markdown', () => {
  const runMetrics: RunMetrics = { version: 1, bestEpoch: 4, epochs: 5, seconds: 75, splits: { train: metrics, val: metrics, test: metrics } };

  it('report.md shows pictures next to metrics and confusion tables', () => {
    const md = formatRunReport({ title: 'runs/default', metrics: runMetrics, settings: { arch: 'resnet18', lr: 0.001 } });
    expect(md).toContain('![Accuracy and loss per epoch, train vs validation](curves.png)');
    expect(md).toContain('![Confusion matrix on the test split](confusion.png)');
    expect(md).toContain('(samples.png)');
    expect(md).toContain('| Metric | Train | Validation | Test |');
    expect(md).toContain(`| Accuracy | ${(metrics.accuracy * 100).toFixed(1)}% |`);
    expect(md).toContain('| actual \\ predicted | infected | normal |');
    expect(md).toContain('| **infected** | 4 | 2 |');
    expect(md).toContain('Trained in 1 min 15 s');
    expect(formatRunReport({ title: 't', metrics: runMetrics, pictures: { samples: null } })).not.toContain('samples.png');
  });

  it('report.md and the per-class table show 95% intervals compactly', () => {
    const ci = classificationIntervals({ probs, labels, classNames }, metrics, { seed: 4 });
    const withCi = { ...metrics, ci };
    const md = formatRunReport({ title: 't', metrics: { ...runMetrics, splits: { test: withCi } } });
    // Accuracy 8/12 and infected recall 4/6: Wilson (1927) by formula, one decimal in percent.
    const wilson = (k: number, n: number) => {
      const z2 = z95 * z95;
      const centre = (k + z2 / 2) / (n + z2);
      const half = ((z95 * Math.sqrt(n)) / (n + z2)) * Math.sqrt((k / n) * (1 - k / n) + z2 / (4 * n));
      return `(${((centre - half) * 100).toFixed(1)}–${((centre + half) * 100).toFixed(1)})`;
    };
    expect(metrics.accuracy).toBeCloseTo(8 / 12, 12);
    expect(md).toContain('| Metric (95% interval) | Test |');
    expect(md).toContain(`| Accuracy | 66.7% ${wilson(8, 12)} |`);
    expect(md).toContain(`| Recall / sensitivity (infected) | 66.7% ${wilson(4, 6)} |`);
    expect(md).toMatch(/\| ROC AUC \| 0\.\d{3} \(0\.\d{3}–(0\.\d{3}|1\.000)\) \|/);
    expect(md).toContain('stratified bootstrap (2000 resamples, seed 4)');
    const perClass = md.slice(md.indexOf('### Per class (Test)'));
    expect(perClass).toContain(`| infected | 66.7% ${wilson(4, 6)} | 66.7% ${wilson(4, 6)} | 66.7% (`);
    expect(perClass).toMatch(/\| \*\*macro average\*\* \| [\d.]+% \([\d.]+–[\d.]+\) \| [\d.]+% \([\d.]+–[\d.]+\) \| [\d.]+% \([\d.]+–[\d.]+\) \| 12 \|/);
    // Without intervals (per-epoch metrics) the cells are the bare value, never an invented interval.
    expect(formatWithInterval(0.5, null)).toBe('50.0%');
    expect(formatWithInterval(null, { low: 0, high: 1 })).toBe('–');
  });

  it('tables escape pipes and mark missing values', () => {
    expect(markdownTable(['a|b'], [['x']], ['right'])).toBe('| a\\|b |\n| --: |\n| x |');
    expect(formatLr(1e-3)).toBe('1e-3');
    expect(formatLr(5e-4)).toBe('5e-4');
    const table = formatComparisonTable([
      { name: 'r1', status: 'finished', testAccuracy: 0.9, testF1: 0.85, testAuc: null, lr: 1e-5 },
      { name: 'r2', status: 'missing' },
    ]);
    expect(table).toContain('| r1 |  |  |  | 1e-5 | 90.00% | 85.00% | – | – |  |');
    expect(table).toContain('| r2 |  |  |  |  | missing |');
  });

  it('experiments report merges shard folders and prefers finished copies', () => {
    const rootA = mkdtempSync(join(tmpdir(), 'cxr-exp-a-'));
    const rootB = mkdtempSync(join(tmpdir(), 'cxr-exp-b-'));
    const [first, second] = seedStudyRuns;
    // first: unfinished in A, finished in B; second: finished in A only.
    for (const [root, run, finished] of [
      [rootA, first, false],
      [rootB, first, true],
      [rootA, second, true],
    ] as const) {
      const dir = join(root, run.name);
      mkdirSync(dir, { recursive: true });
      writeRunConfig(dir, run.options);
      for (const row of history) appendHistory(dir, row);
      if (finished) writeRunMetrics(dir, runMetrics);
    }
    const collected = collectRuns(seedStudyRuns, [rootA, rootB]);
    expect(collected.summaries).toHaveLength(13);
    expect(collected.summaries[0]).toMatchObject({ status: 'finished', testAccuracy: metrics.accuracy, bestEpoch: 4 });
    expect(collected.folders[first.name]).toBe(join(rootB, first.name));
    expect(collected.summaries[1].status).toBe('finished');
    expect(collected.summaries[2].status).toBe('missing');
    expect(collected.histories.map((h) => h.name)).toEqual([first.name, second.name]);
    const md = formatExperimentReport({ title: 'seed-study', runs: collected.summaries, overlayPicture: 'curves-overlay.png' });
    expect(md).toContain('2 of 13 runs finished.');
    expect(md).toContain('## Task 1: backbone frozen');
    expect(md).toContain('## Task 2: LR 1e-3');
    expect(md).toContain('(curves-overlay.png)');
  });
});

describe('what the texts say the run did', () => {
  const classes3 = ['bacterial', 'infected', 'normal'];
  const probs3 = [
    [0.7, 0.2, 0.1],
    [0.1, 0.8, 0.1],
    [0.2, 0.2, 0.6],
    [0.1, 0.7, 0.2],
    [0.5, 0.3, 0.2],
    [0.2, 0.5, 0.3],
    [0.3, 0.1, 0.6],
    [0.6, 0.3, 0.1],
  ];
  const labels3 = [0, 1, 2, 1, 0, 2, 1, 0];

  it('with three classes and no --positive, report.md names the class its binary numbers are for', () => {
    const m = evaluatePredictions({ probs: probs3, labels: labels3, classNames: classes3 });
    expect(m.positiveClass).toBe('infected');
    const md = formatRunReport({ title: 't', metrics: { version: 1, bestEpoch: 1, epochs: 1, positiveClass: null, splits: { test: m } } });
    expect(md).toContain("one-vs-rest for 'infected'");
    expect(md).not.toContain('for the first class');
  });

  it("roc.png's AUC with three classes is the drawn class's against the rest, not the macro AUC", () => {
    const scores = probs3.map((r) => r[1]);
    const isPos = labels3.map((l) => l === 1);
    const own = oneVsRestAuc(scores, isPos, labels3, { resamples: 200, seed: 1 });
    // Hand count for 'infected': its scores 0.8, 0.7, 0.1 against the others' 0.2, 0.2, 0.3, 0.5,
    // 0.3: 5 + 5 + 0 of 15 pairs.
    expect(own.value).toBeCloseTo(10 / 15, 12);
    const macro = evaluatePredictions({ probs: probs3, labels: labels3, classNames: classes3 }).auc!;
    expect(Math.abs(macro - own.value!)).toBeGreaterThan(0.01);
    expect(own.ci!.low).toBeLessThanOrEqual(own.value!);
    expect(own.ci!.high).toBeGreaterThanOrEqual(own.value!);
  });

  it('the model card and report.md state the selection criterion, the epochs run, and say when figures are in-sample', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cxr-card-'));
    writeRunConfig(dir, { ...defaultTrainConfig, selectBy: 'val-auc', epochs: 20, patience: 2 });
    const m = evaluatePredictions({ probs, labels, classNames });
    const threshold = { spec: 'youden', value: 0.5, chosenOn: 'val', sensitivity: 0.8, specificity: 0.7 };
    const intervals = { val: metricIntervals({ probs, labels, classNames, positive: 1, threshold: 0.5 }, { resamples: 50 }) };
    const cal = calibration(probs, labels);
    const evidence: Evidence = {
      split: 'val',
      threshold,
      intervals,
      calibration: { split: 'val', bins: 15, ece: cal.ece, temperature: null, eceAfter: null, reliability: cal.bins },
      averagePrecision: null,
      averagePrecisionCi: null,
      gradCam: null,
    };
    const metricsFile = {
      version: 1,
      bestEpoch: 4,
      epochs: 20,
      epochsRun: 6,
      stoppedEarly: true,
      patience: 2,
      selectBy: 'val-auc',
      splits: { val: m },
      evidence,
    };
    writeRunMetrics(dir, metricsFile as RunMetrics);
    const card = formatModelCard(dir);
    expect(card).toContain('| epochs | 6 of 20 asked (stopped early); kept epoch 4, best by validation AUC |');
    expect(card).not.toContain('best validation accuracy');
    expect(card).not.toContain('applied unchanged to test');
    expect(card).toContain('No test split: the epoch, the threshold and the temperature were chosen on the validation images');
    expect(formatEvidenceReport(evidence)).toContain('in-sample and optimistic');
    // With a test split the warning goes.
    expect(formatEvidenceReport({ ...evidence, split: 'test', intervals: { ...intervals, test: intervals.val } })).not.toContain('in-sample');
    expect(formatRunReport({ title: 't', metrics: metricsFile as RunMetrics })).toContain('Best epoch 4 of 6 (kept by validation AUC)');
  });
});
