/**
 * Per-class precision, recall, F1 and support, with the macro average and one-vs-rest AUC: what to
 * read with three or more classes (covid-19 / normal / pneumonia), where a single "positive class"
 * number hides how the other classes fare.
 */
import type { ClassificationMetrics } from '../metrics/classificationMetrics.ts';
import { formatNumber, formatPercent, markdownTable } from './markdownTable.ts';

export function perClassTable(m: ClassificationMetrics): string {
  const rows = m.perClass.map((c) => [c.name, formatPercent(c.precision), formatPercent(c.recall), formatPercent(c.f1), String(c.support)]);
  rows.push(['**macro average**', formatPercent(m.macroPrecision), formatPercent(m.macroRecall), formatPercent(m.macroF1), String(m.n)]);
  const table = markdownTable(['Class', 'Precision', 'Recall', 'F1', 'Images'], rows, ['left', 'right', 'right', 'right', 'right']);
  const auc = m.aucMethod === 'ovr-macro' ? `ROC AUC, one-vs-rest macro average over ${m.classNames.length} classes: ${formatNumber(m.auc)}.` : `ROC AUC (${m.positiveClass} vs ${m.classNames.filter((c) => c !== m.positiveClass).join(', ')}): ${formatNumber(m.auc)}.`;
  return `${table}\n\n${auc}`;
}
