/**
 * The report.md sections built from a run's evidence (see evidence.ts): metrics with 95%
 * intervals at the validation-chosen threshold, the operating point, calibration and Grad-CAM.
 */
import type { Evidence } from './evidence.ts';
import { evidenceFiles } from './evidence.ts';
import type { Estimate, MetricIntervals } from '../metrics/metricIntervals.ts';
import { centralLungBox } from '../metrics/lungMass.ts';
import { formatWithInterval, markdownTable } from './markdownTable.ts';

const splitTitles: Record<string, string> = { train: 'Train', val: 'Validation', test: 'Test' };

/** One interval style in the whole report (formatWithInterval), plus the counts behind a proportion. */
export function formatEstimate(e: Estimate, percent = true): string {
  if (e.value === null) return 'n/a';
  const counts = e.k !== undefined ? `, ${e.k}/${e.n}` : '';
  return `${formatWithInterval(e.value, e.ci, percent)}${counts}`;
}

export function intervalsTable(intervals: Record<string, MetricIntervals>): string {
  const splits = ['train', 'val', 'test'].filter((s) => intervals[s]);
  const pos = intervals[splits[0]]?.positiveClass ?? 'positive';
  const rows: [string, (m: MetricIntervals) => string][] = [
    ['Accuracy', (m) => formatEstimate(m.accuracy)],
    [`Sensitivity (${pos})`, (m) => formatEstimate(m.sensitivity)],
    [`Specificity (${pos})`, (m) => formatEstimate(m.specificity)],
    ['PPV (precision)', (m) => formatEstimate(m.ppv)],
    ['NPV', (m) => formatEstimate(m.npv)],
    [`F1 (${pos})`, (m) => formatEstimate(m.f1)],
    ['ROC AUC', (m) => formatEstimate(m.auc, false)],
  ];
  return markdownTable(
    ['Metric (95% interval)', ...splits.map((s) => splitTitles[s] ?? s)],
    rows.map(([l, f]) => [l, ...splits.map((s) => f(intervals[s]))]),
    ['left', ...splits.map(() => 'right' as const)],
  );
}

/** Said wherever final figures are shown for a run without a test split. */
export const inSampleWarning =
  'No test split: the epoch, the threshold and the temperature were chosen on the validation images these figures are measured on, so they are in-sample and optimistic.';

export function formatEvidenceReport(e: Evidence): string {
  const out: string[] = [];
  const any = Object.values(e.intervals)[0];
  out.push('## Metrics with 95% intervals', '');
  out.push(
    e.threshold
      ? `At the decision threshold p(${any.positiveClass}) ≥ ${e.threshold.value.toFixed(4)}, chosen on validation by \`${e.threshold.spec}\` and applied unchanged to the other splits (the Metrics table above decides by the most probable class; \`predict\` and \`eval\` apply this threshold).`
      : 'Decision by the most probable class (more than two classes: no threshold).',
  );
  if (e.split === 'val') out.push(`**${inSampleWarning}**`);
  out.push(
    `Proportions: Wilson score intervals (counts in brackets). F1 and AUC: stratified percentile bootstrap, ${any.method.resamples} resamples, seed ${any.method.seed}.`,
    '',
  );
  out.push(intervalsTable(e.intervals), '');

  out.push('## Operating point', '');
  if (e.threshold) {
    const fin = e.intervals[e.split];
    out.push(
      `Threshold ${e.threshold.value.toFixed(4)} (\`--threshold ${e.threshold.spec}\`): validation sensitivity ${(e.threshold.sensitivity * 100).toFixed(1)}%, specificity ${(e.threshold.specificity * 100).toFixed(1)}%; ${splitTitles[e.split] ?? e.split} sensitivity ${formatEstimate(fin.sensitivity)}, specificity ${formatEstimate(fin.specificity)}.`,
      '',
    );
  }
  // More than two classes: no threshold, and the curves are one class against the rest.
  const multiClass = e.curveClass !== undefined;
  if (multiClass)
    out.push(`The ROC and precision-recall curves below are for '${e.curveClass}' against the rest; the AUC in their titles is that class's.`, '');
  out.push(`![ROC curve with the operating point](${evidenceFiles.roc})`, '');
  if (e.averagePrecision !== null) {
    out.push(
      `Average precision (area under the precision-recall curve, step-wise${multiClass && e.curveClass ? `, '${e.curveClass}' against the rest` : ''}): ${formatWithInterval(e.averagePrecision, e.averagePrecisionCi, false)}.`,
      '',
    );
    out.push(`![Precision-recall curve with the operating point](${evidenceFiles.pr})`, '');
  }

  out.push('## Calibration', '');
  const c = e.calibration;
  out.push(
    `Expected calibration error (${c.bins} equal-width bins of top-class confidence, ${splitTitles[c.split] ?? c.split}): **${c.ece.toFixed(4)}**` +
      (c.temperature !== null
        ? `; after temperature scaling (T = ${c.temperature.toFixed(3)}, fitted on validation): **${c.eceAfter!.toFixed(4)}**.`
        : ' (no temperature scaling; `--calibrate temperature` fits one on validation).'),
    '',
  );
  out.push(`![Reliability diagram](${evidenceFiles.calibration})`, '');

  if (e.gradCam) {
    const g = e.gradCam;
    out.push('## Grad-CAM', '');
    out.push(
      `samples.png overlays Grad-CAM maps (layer \`${g.layer}\`) of the predicted class. Share of each map's mass outside the central lung region ` +
        `(box x ${centralLungBox.left * 100}-${centralLungBox.right * 100}% of the width, y ${centralLungBox.top * 100}-${centralLungBox.bottom * 100}% of the height; ` +
        `a map spread evenly would put ${(g.areaOutsideLung * 100).toFixed(0)}% there): mean **${(g.meanMassOutsideLung * 100).toFixed(1)}%**.` +
        (g.meanMassOutsideLung > Math.max(0.5, g.areaOutsideLung * 1.5)
          ? ' **Most of the attention lies outside the lungs: the model may be using borders, corners or markers rather than anatomy.**'
          : ''),
      '',
    );
    if (Math.min(...g.featureShape) <= 3) {
      out.push(
        `Caution: at this input size the layer's feature map has only ${g.featureShape.join(' x ')} cells, so the maps are too coarse to localise anything and the share above stays near the uniform value whatever the model attends to; explain at a larger --image-size (224 px gives 7 x 7).`,
        '',
      );
    }
    out.push(
      markdownTable(
        ['Image', 'Actual', 'Predicted', 'p', 'Mass outside lungs'],
        g.images.map((i) => [
          i.file.split('/').slice(-2).join('/'),
          i.actual,
          i.predicted,
          i.probability.toFixed(3),
          `${(i.massOutsideLung * 100).toFixed(1)}%`,
        ]),
        ['left', 'left', 'left', 'right', 'right'],
      ),
      '',
    );
  }
  return out.join('\n');
}
