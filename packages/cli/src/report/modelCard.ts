/**
 * MODEL_CARD.md (Mitchell et al. 2019), written from a finished run's own files (config.json,
 * metrics.json with its evidence, audit.json, history.csv), never edited by hand: intended use,
 * data, audit findings, training settings, metrics with intervals at the chosen threshold,
 * calibration, Grad-CAM, and the limits a reader must know.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { auditFile, type TrainingAudit } from '../audit/trainingAudit.ts';
import type { TrainConfig } from '../config/trainConfig.ts';
import { readHistory } from '../run/historyCsv.ts';
import { runFiles } from '../run/runFolder.ts';
import type { RunMetrics } from '../run/runMetrics.ts';
import type { Evidence } from './evidence.ts';
import { evidenceFiles } from './evidence.ts';
import { formatEstimate, inSampleWarning, intervalsTable } from './evidenceReport.ts';
import { markdownTable } from './markdownTable.ts';
import { selectionCriterion } from './runReport.ts';

const readJson = <T>(file: string): T | null => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : null);

export function formatModelCard(dir: string): string {
  const config = readJson<TrainConfig>(join(dir, runFiles.config));
  const metrics = readJson<RunMetrics & { evidence?: Evidence }>(join(dir, runFiles.metrics));
  if (!config || !metrics) throw new Error(`model card: ${dir} has no config.json or metrics.json (not a finished run)`);
  const audit = readJson<TrainingAudit>(join(dir, auditFile));
  const e = metrics.evidence;
  const anySplit = Object.values(metrics.splits)[0];
  const classes = anySplit?.classNames ?? [];
  const out: string[] = [`# Model card: ${config.arch} (${dir.split('/').filter(Boolean).pop()})`, ''];

  out.push(
    '## Intended use',
    '',
    '- **Research only, not diagnosis.** This model was trained by CXR to study methods on chest X-rays. It is not a medical device, was not validated clinically, and must not be used to make or support decisions about patients.',
    `- Input: a frontal chest radiograph, preprocessed as in training (resize, centre crop ${config.imageSize} px, ImageNet normalisation). Output: probabilities for ${classes.map((c) => `'${c}'`).join(', ')}.`,
    '',
  );

  out.push('## Data', '', `Dataset: \`${config.data}\`.`, '');
  if (audit) {
    out.push(
      markdownTable(
        ['Split', ...classes, 'Total'],
        Object.entries(audit.countsUsed ?? audit.counts).map(([s, c]) => [
          s,
          ...classes.map((k) => String(c[k] ?? 0)),
          String(Object.values(c).reduce((a, b) => a + b, 0)),
        ]),
        ['left', ...classes.map(() => 'right' as const), 'right'],
      ),
      '',
    );
    out.push('Files found per class (format, bit depth, colour type; differing mixes hint at different sources):', '');
    out.push(
      Object.entries(audit.fileKinds)
        .map(
          ([c, k]) =>
            `- ${c}: ${Object.entries(k)
              .sort((a, b) => b[1] - a[1])
              .map(([n, v]) => `${v} ${n}`)
              .join(', ')}`,
        )
        .join('\n'),
      '',
    );
    out.push('Audit findings (audit.json):', '');
    out.push(
      audit.findings.length
        ? audit.findings.map((f) => `- ${f}`).join('\n')
        : '- none: no cross-split duplicates, no patient overlap, no file-property shortcut found.',
      '',
    );
    if (audit.shortcutProbe)
      out.push(
        `Shortcut probe: AUC ${audit.shortcutProbe.auc?.toFixed(3) ?? 'n/a'}${audit.shortcutProbe.ci ? ` (95% CI ${audit.shortcutProbe.ci.low.toFixed(3)}-${audit.shortcutProbe.ci.high.toFixed(3)})` : ''} from file properties alone; strongest feature ${audit.shortcutProbe.mostPredictive?.feature ?? 'n/a'}.`,
        '',
      );
    if (audit.dropped?.length) out.push(`--dedupe dropped ${audit.dropped.length} cross-split duplicate(s); the table counts the images used, after that.`, '');
  } else {
    out.push('No audit.json in the run folder: the data was not audited.', '');
  }

  out.push('## Training', '');
  const history = existsSync(join(dir, runFiles.history)) ? readHistory(dir) : [];
  const settings: [string, string][] = [
    ['architecture', config.arch],
    ['initial weights', metrics.weightsUsed ?? config.weights],
    ['head', config.head],
    ['frozen', config.freeze],
    ['optimizer', `${config.optimizer}, lr ${config.lr}${config.weightDecay ? `, weight decay ${config.weightDecay}` : ''}`],
    ['schedule', config.schedule],
    [
      'epochs',
      `${metrics.epochsRun ?? metrics.epochs}${metrics.epochsRun !== undefined && metrics.epochsRun !== metrics.epochs ? ` of ${metrics.epochs} asked (stopped early)` : ''}; kept epoch ${metrics.bestEpoch}, best by ${selectionCriterion(metrics)}`,
    ],
    ['batch size', String(config.batchSize)],
    ['image size', `${config.imageSize} px`],
    ['loss', config.loss],
    ['augmentation', config.augment],
    ['seed', String(config.seed)],
  ];
  if (history.length) settings.push(['training time', `${history.reduce((s, r) => s + r.seconds, 0).toFixed(0)} s over ${history.length} epoch(s)`]);
  out.push(markdownTable(['Setting', 'Value'], settings), '');

  out.push('## Metrics', '');
  if (e) {
    out.push(
      e.threshold
        ? `Decision threshold p(${Object.values(e.intervals)[0].positiveClass}) ≥ ${e.threshold.value.toFixed(4)}, chosen on validation (\`${e.threshold.spec}\`)${e.split === 'val' ? '' : ', applied unchanged to test'}. 95% intervals: Wilson for proportions, stratified bootstrap for F1 and AUC.`
        : 'Decision by the most probable class.',
      '',
    );
    if (e.split === 'val') out.push(`**${inSampleWarning}**`, '');
    out.push(intervalsTable(e.intervals), '');
    out.push('## Calibration', '');
    out.push(
      `ECE (15 bins, ${e.calibration.split}): ${e.calibration.ece.toFixed(4)}${e.calibration.temperature !== null ? `; with the stored temperature T = ${e.calibration.temperature.toFixed(3)}: ${e.calibration.eceAfter!.toFixed(4)}` : ' (no temperature scaling)'}. Reliability diagram: ${evidenceFiles.calibration}.`,
      '',
    );
    if (e.gradCam) {
      out.push('## Grad-CAM', '');
      out.push(
        `Examples: ${runFiles.samples} (layer \`${e.gradCam.layer}\`, ${e.gradCam.featureShape.join(' x ')} feature map). Mean share of map mass outside the central lung region: ${(e.gradCam.meanMassOutsideLung * 100).toFixed(1)}% (a uniform map: ${(e.gradCam.areaOutsideLung * 100).toFixed(0)}%).` +
          (Math.min(...e.gradCam.featureShape) <= 3
            ? ' At this input size the map is too coarse to localise anything, so this share says nothing about where the model looks.'
            : ''),
        '',
      );
    }
  } else {
    out.push('No evidence section in metrics.json (run from an older CXR).', '');
  }

  out.push('## Known limits', '');
  const limits = [
    'Evaluated on one held-out split of the same data source(s); performance on other hospitals, scanners or populations is unknown.',
    'Intervals describe sampling noise of this test set only, not dataset shift.',
  ];
  if (e?.split === 'val') limits.push(`**${inSampleWarning}**`);
  if (audit?.shortcutProbe?.fires)
    limits.push(
      '**The audit found that the labels can be predicted from file properties alone: high accuracy here may reflect the source of the images rather than the disease.**',
    );
  if (audit?.duplicates.crossSplit.length && !audit.dropped?.length) limits.push('**Duplicates span the splits (not removed): test figures are optimistic.**');
  if (audit?.patientOverlap?.length) limits.push('**Some patients appear in more than one split: test figures are optimistic.**');
  if (e?.gradCam && e.gradCam.meanMassOutsideLung > Math.max(0.5, e.gradCam.areaOutsideLung * 1.5))
    limits.push('**Grad-CAM puts most of its mass outside the lungs.**');
  if (e && e.intervals[e.split]?.accuracy.n !== undefined && e.intervals[e.split].accuracy.n! < 100)
    limits.push(
      `The ${e.split} split has only ${e.intervals[e.split].accuracy.n} images: wide intervals (accuracy ${formatEstimate(e.intervals[e.split].accuracy)}).`,
    );
  out.push(limits.map((l) => `- ${l}`).join('\n'), '');
  return out.join('\n');
}
