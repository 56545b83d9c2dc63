/**
 * `experiments report`: the study's comparison table (test accuracy and test F1 per run) as
 * Markdown, grouped by task, plus the overlay picture. Runs that have not finished are listed with
 * their status instead of being dropped, so a partial grid is obvious.
 */
import { formatNumber, formatPercent, markdownTable } from './markdownTable.ts';

export interface RunSummary {
  name: string;
  /** Grouping heading, e.g. 'Task 1 (backbone frozen)'. Runs without one go under 'Runs'. */
  task?: string;
  arch?: string;
  head?: string;
  freeze?: string;
  lr?: number;
  status: 'finished' | 'unfinished' | 'missing';
  /** Validation accuracy of the kept epoch: picks the paired comparison's reference without the test set. */
  valAccuracy?: number | null;
  testAccuracy?: number | null;
  /** F1 of the positive class on the test split. */
  testF1?: number | null;
  testMacroF1?: number | null;
  testAuc?: number | null;
  bestEpoch?: number;
}

export function formatComparisonTable(runs: readonly RunSummary[]): string {
  const header = ['Run', 'Arch', 'Head', 'Frozen', 'LR', 'Test accuracy', 'Test F1', 'Test macro F1', 'Test AUC', 'Best epoch'];
  const align = ['left', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'] as const;
  const rows = runs.map((r) => {
    const done = r.status === 'finished';
    return [
      r.name,
      r.arch ?? '',
      r.head ?? '',
      r.freeze ?? '',
      r.lr === undefined ? '' : formatLr(r.lr),
      done ? formatPercent(r.testAccuracy) : r.status,
      done ? formatPercent(r.testF1) : '',
      done ? formatPercent(r.testMacroF1) : '',
      done ? formatNumber(r.testAuc) : '',
      done && r.bestEpoch !== undefined ? String(r.bestEpoch) : '',
    ];
  });
  return markdownTable(header, rows, align);
}

export interface ExperimentReportInput {
  title: string;
  runs: readonly RunSummary[];
  /** Overlay picture path relative to the report; omitted when null/undefined. */
  overlayPicture?: string | null;
  /** Free text under the title (profile, where the runs came from). */
  intro?: string;
}

export function formatExperimentReport(input: ExperimentReportInput): string {
  const out = [`# ${input.title}`, ''];
  if (input.intro) out.push(input.intro, '');
  const finished = input.runs.filter((r) => r.status === 'finished').length;
  out.push(`${finished} of ${input.runs.length} runs finished.`, '');
  // Group by task in first-seen order, which follows the grid's order.
  const tasks = [...new Set(input.runs.map((r) => r.task ?? 'Runs'))];
  for (const task of tasks) {
    out.push(`## ${task}`, '', formatComparisonTable(input.runs.filter((r) => (r.task ?? 'Runs') === task)), '');
  }
  if (input.overlayPicture) out.push('## Validation curves', '', `![Validation accuracy and loss per epoch for every run](${input.overlayPicture})`, '');
  return out.join('\n');
}

/** 0.001 -> '1e-3', 0.0005 -> '5e-4', 0.0012 -> '1.2e-3': the way the study writes learning rates. */
export function formatLr(lr: number): string {
  return lr
    .toExponential()
    .replace(/\.?0+e/, 'e')
    .replace('e+', 'e');
}
