/**
 * Per-class precision, recall, F1 and support, with the macro average and one-vs-rest AUC: what to
 * read with three or more classes (covid-19 / normal / pneumonia), where a single "positive class"
 * number hides how the other classes fare.
 */
import type { ClassificationMetrics } from '../metrics/classificationMetrics.ts';
import { formatWithInterval, markdownTable } from './markdownTable.ts';

export function perClassTable(m: ClassificationMetrics): string {
  const ci = m.ci;
  const rows = m.perClass.map((c, i) => [
    c.name,
    formatWithInterval(c.precision, ci?.perClass[i].precision),
    formatWithInterval(c.recall, ci?.perClass[i].recall),
    formatWithInterval(c.f1, ci?.perClass[i].f1),
    String(c.support),
  ]);
  rows.push([
    '**macro average**',
    formatWithInterval(m.macroPrecision, ci?.macroPrecision),
    formatWithInterval(m.macroRecall, ci?.macroRecall),
    formatWithInterval(m.macroF1, ci?.macroF1),
    String(m.n),
  ]);
  const table = markdownTable(['Class', 'Precision', 'Recall', 'F1', 'Images'], rows, ['left', 'right', 'right', 'right', 'right']);
  const auc = formatWithInterval(m.auc, ci?.auc, false);
  const about =
    m.aucMethod === 'ovr-macro'
      ? `ROC AUC, one-vs-rest macro average over ${m.classNames.length} classes: ${auc}.`
      : `ROC AUC (${m.positiveClass} vs ${m.classNames.filter((c) => c !== m.positiveClass).join(', ')}): ${auc}.`;
  const method = ci
    ? `\n\n95% intervals in brackets: Wilson for precision and recall, a stratified bootstrap (${ci.method.resamples} resamples, seed ${ci.method.seed}) for F1, the macro averages and AUC.`
    : '';
  return `${table}\n\n${about}${method}`;
}
