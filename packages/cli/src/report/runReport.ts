/**
 * report.md of one run: the pictures next to the numbers they illustrate. Pure string building;
 * the caller writes it with writeFileAtomic so a crash never leaves a partial report.
 */
import type { ClassificationMetrics } from '../metrics/classificationMetrics.ts';
import type { ConfusionMatrix } from '../metrics/confusionMatrix.ts';
import { runFiles } from '../run/runFolder.ts';
import { splitNames, type RunMetrics, type SplitName } from '../run/runMetrics.ts';
import type { Interval } from '../metrics/intervals.ts';
import { formatWithInterval, markdownTable } from './markdownTable.ts';
import { perClassTable } from './perClassTable.ts';

const splitTitles: Record<SplitName, string> = { train: 'Train', val: 'Validation', test: 'Test' };

export interface RunReportInput {
  /** Run name, e.g. the folder name. */
  title: string;
  metrics: RunMetrics;
  /** Settings worth showing (arch, head, lr, ...); written as a two-column table. */
  settings?: Record<string, string | number | boolean | null | undefined>;
  /** Picture file names relative to report.md; default the standard run-folder names. Set one to null to omit it. */
  pictures?: { curves?: string | null; confusion?: string | null; samples?: string | null };
}

/** Metrics table: one row per metric, one column per evaluated split. */
export function metricsTable(splits: Partial<Record<SplitName, ClassificationMetrics>>): string {
  const present = splitNames.filter((s) => splits[s]);
  const positive = present.length > 0 ? splits[present[0]]!.positiveClass : 'positive';
  const pct =
    (pick: (m: ClassificationMetrics) => number | null, ci: (c: NonNullable<ClassificationMetrics['ci']>) => Interval | null, percent = true) =>
    (m: ClassificationMetrics) =>
      formatWithInterval(pick(m), m.ci ? ci(m.ci) : null, percent);
  const rows: [string, (m: ClassificationMetrics) => string][] = [
    ['Images', (m) => String(m.n)],
    [
      'Accuracy',
      pct(
        (m) => m.accuracy,
        (c) => c.accuracy,
      ),
    ],
    [
      `Precision (${positive})`,
      pct(
        (m) => m.precision,
        (c) => c.precision,
      ),
    ],
    [
      `Recall / sensitivity (${positive})`,
      pct(
        (m) => m.recall,
        (c) => c.recall,
      ),
    ],
    [
      `Specificity (${positive})`,
      pct(
        (m) => m.specificity,
        (c) => c.specificity,
      ),
    ],
    [
      `F1 (${positive})`,
      pct(
        (m) => m.f1,
        (c) => c.f1,
      ),
    ],
    [
      'F1 (macro)',
      pct(
        (m) => m.macroF1,
        (c) => c.macroF1,
      ),
    ],
    [
      'ROC AUC',
      pct(
        (m) => m.auc,
        (c) => c.auc,
        false,
      ),
    ],
  ];
  return markdownTable(
    [present.some((s) => splits[s]!.ci) ? 'Metric (95% interval)' : 'Metric', ...present.map((s) => splitTitles[s])],
    rows.map(([label, pick]) => [label, ...present.map((s) => pick(splits[s]!))]),
    ['left', ...present.map(() => 'right' as const)],
  );
}

/** Confusion matrix as a table in the study's orientation: rows actual, columns predicted. */
export function confusionTable(cm: ConfusionMatrix): string {
  return markdownTable(
    ['actual \\ predicted', ...cm.labels],
    cm.matrix.map((row, a) => [`**${cm.labels[a]}**`, ...row.map(String)]),
    ['left', ...cm.labels.map(() => 'right' as const)],
  );
}

/** What picked the kept epoch, in words ('validation loss'); runs from before --select-by kept the best validation accuracy. */
export function selectionCriterion(metrics: Pick<RunMetrics, 'selectBy'>): string {
  return metrics.selectBy ? metrics.selectBy.replace('val-', 'validation ').replace(/\bauc\b/, 'AUC') : 'validation accuracy';
}

export function formatRunReport(input: RunReportInput): string {
  const pictures = {
    curves: runFiles.curves as string | null,
    confusion: runFiles.confusion as string | null,
    samples: runFiles.samples as string | null,
    ...input.pictures,
  };
  const { metrics } = input;
  const out: string[] = [`# ${input.title}`, ''];
  const facts = [
    `Best epoch ${metrics.bestEpoch} of ${metrics.epochsRun ?? metrics.epochs} (kept by ${selectionCriterion(metrics)})${metrics.stoppedEarly ? `; stopped early after ${metrics.epochsRun} epochs without improvement for ${metrics.patience}` : ''}.`,
  ];
  // With no --positive the binary columns still need a class: evaluatePredictions' default.
  const usedAsPositive = Object.values(metrics.splits).find((m) => m)?.positiveClass;
  if (metrics.positiveClass !== undefined)
    facts.push(
      `Positive class: ${metrics.positiveClass ?? `none (the binary numbers are one-vs-rest for '${usedAsPositive ?? '?'}'; read the per-class table)`}.`,
    );
  if (metrics.seconds !== undefined) facts.push(`Trained in ${formatDuration(metrics.seconds)}.`);
  out.push(facts.join(' '), '');

  if (input.settings) {
    const entries = Object.entries(input.settings).filter(([, v]) => v !== undefined);
    out.push(
      '## Settings',
      '',
      markdownTable(
        ['Setting', 'Value'],
        entries.map(([k, v]) => [k, String(v)]),
      ),
      '',
    );
  }

  out.push('## Metrics', '', metricsTable(metrics.splits), '');
  const ci = Object.values(metrics.splits).find((m) => m?.ci)?.ci;
  if (ci)
    out.push(
      `By the most probable class. 95% intervals in brackets: Wilson for accuracy, precision, recall and specificity; a stratified bootstrap (${ci.method.resamples} resamples, seed ${ci.method.seed}) for F1 and AUC.`,
      '',
    );
  const last = splitNames.filter((s) => metrics.splits[s]).at(-1);
  if (last) out.push(`### Per class (${splitTitles[last]})`, '', perClassTable(metrics.splits[last]!), '');
  const skipped = splitNames.filter((s) => metrics.skipped?.[s]?.length);
  if (skipped.length) {
    out.push('## Skipped images', '', 'These files could not be decoded and are not in the metrics above (--skip-bad-images).', '');
    for (const s of skipped) {
      const files = metrics.skipped![s]!;
      out.push(
        `**${splitTitles[s]}**: ${files.length} file(s)`,
        '',
        ...files.slice(0, 20).map((f) => `- \`${f.file}\`: ${f.reason}`),
        ...(files.length > 20 ? [`- … and ${files.length - 20} more (metrics.json lists all)`] : []),
        '',
      );
    }
  }

  out.push('## Training curves', '');
  if (pictures.curves) out.push(`![Accuracy and loss per epoch, train vs validation](${pictures.curves})`, '');

  out.push('## Confusion matrix', '');
  if (pictures.confusion) out.push(`![Confusion matrix on the test split](${pictures.confusion})`, '');
  for (const split of splitNames) {
    const m = metrics.splits[split];
    if (m) out.push(`**${splitTitles[split]}** (rows actual, columns predicted)`, '', confusionTable(m.confusion), '');
  }

  if (pictures.samples) out.push('## Sample predictions', '', `![Two right and two wrong predictions per class](${pictures.samples})`, '');
  return out.join('\n');
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return `${m} min ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
