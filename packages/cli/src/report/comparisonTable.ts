/**
 * `experiments report`: the study's comparison table (test accuracy, F1 of the named class and macro F1 per run) as
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
  /**
   * F1 of one class on the test split: the positive class, or with three or more classes and no
   * --positive the first class against the rest (as report.md's "F1 (class)" row).
   */
  testF1?: number | null;
  /** The class testF1 is of (the test split's positiveClass); absent in summaries that predate it. */
  testF1Class?: string | null;
  /** Classes of the run's test split: with three or more, testF1 is one class against the rest. */
  testClassCount?: number;
  testMacroF1?: number | null;
  testAuc?: number | null;
  bestEpoch?: number;
}

/** What a run's Test F1 is of: 'covid', or 'covid vs rest' with three or more classes. */
function f1Subject(r: RunSummary): string | null {
  if (!r.testF1Class) return null;
  return (r.testClassCount ?? 0) > 2 ? `${r.testF1Class} vs rest` : r.testF1Class;
}

export function formatComparisonTable(runs: readonly RunSummary[]): string {
  // "Test F1" alone did not say which class it was of (with 3+ classes: the first one against the
  // rest, beside the macro F1 column). The header names the class when every finished run agrees;
  // otherwise each cell does.
  const subjects = [...new Set(runs.filter((r) => r.status === 'finished' && r.testF1 != null).map(f1Subject))];
  const shared = subjects.length === 1 ? subjects[0] : undefined;
  const f1Header = shared ? `Test F1 (${shared})` : subjects.length > 1 ? 'Test F1 (class)' : 'Test F1 (positive class)';
  const f1Cell = (r: RunSummary) => {
    const value = formatPercent(r.testF1);
    const subject = f1Subject(r);
    return shared === undefined && subject && r.testF1 != null ? `${value} (${subject})` : value;
  };
  const header = ['Run', 'Arch', 'Head', 'Frozen', 'LR', 'Test accuracy', f1Header, 'Test macro F1', 'Test AUC', 'Best epoch'];
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
      done ? f1Cell(r) : '',
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
