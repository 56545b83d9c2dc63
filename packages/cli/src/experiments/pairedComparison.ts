/**
 * `experiments report`: is a difference between runs more than noise? Every finished run is
 * compared with the best one (by test accuracy) on the test images both scored, read from their
 * predictions.csv, by a paired bootstrap (metrics/pairedBootstrap.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCsv } from '@cxr/data';
import { pairedBootstrap, type PairedDifference, type RunScores } from '../metrics/pairedBootstrap.ts';
import { findClassIndex } from '../metrics/confusionMatrix.ts';
import { markdownTable } from '../report/markdownTable.ts';

export function readTestScores(folder: string, positiveClass = 'infected'): RunScores | null {
  const file = join(folder, 'predictions.csv');
  if (!existsSync(file)) return null;
  const rows = parseCsv(readFileSync(file, 'utf8'));
  const head = rows.shift() ?? [];
  const classes = head.filter((h) => h.startsWith('p_')).map((h) => h.slice(2));
  const first = head.indexOf(`p_${classes[0]}`);
  const named = findClassIndex(classes, positiveClass);
  const scores: RunScores = { probs: new Map(), labels: new Map(), positive: Math.max(named, 0) };
  for (const r of rows) {
    if (r[0] !== 'test') continue;
    const key = r[1];
    scores.probs.set(key, r.slice(first, first + classes.length).map(Number));
    scores.labels.set(key, classes.indexOf(r[2]));
  }
  return scores.probs.size ? scores : null;
}

export interface PairedRow {
  name: string;
  reference: string;
  result: PairedDifference;
}

export function compareWithBest(folders: Record<string, string>, accuracy: Record<string, number | null | undefined>, seed?: number): PairedRow[] {
  const scored = Object.entries(folders)
    .map(([name, f]) => [name, readTestScores(f)] as const)
    .filter(([, s]) => s !== null) as [string, RunScores][];
  if (scored.length < 2) return [];
  const best = scored.reduce((a, b) => ((accuracy[b[0]] ?? -1) > (accuracy[a[0]] ?? -1) ? b : a));
  return scored.filter(([n]) => n !== best[0]).map(([name, s]) => ({ name, reference: best[0], result: pairedBootstrap(best[1], s, { seed }) }));
}

export function formatPairedComparison(rows: readonly PairedRow[]): string {
  if (!rows.length) return '';
  const pts = (v: number) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}`;
  const excludesZero = (ci: { low: number; high: number }) => ci.low > 0 || ci.high < 0;
  const r0 = rows[0].result;
  const out = [
    '## Paired comparison with the best run',
    '',
    `Each run minus **${rows[0].reference}** (best test accuracy) on the same test images: paired stratified bootstrap, ${r0.resamples} resamples, seed ${r0.seed}. A difference whose 95% interval contains 0 is not distinguishable from noise on this test set.`,
    '',
  ];
  out.push(
    markdownTable(
      ['Run', 'Images', 'Accuracy difference (points) [95% CI]', 'AUC difference [95% CI]', 'Beyond noise?'],
      rows.map(({ name, result: r }) => [
        name,
        String(r.images),
        `${pts(r.accuracy.difference)} [${pts(r.accuracy.ci.low)}, ${pts(r.accuracy.ci.high)}]`,
        r.auc ? `${r.auc.difference >= 0 ? '+' : ''}${r.auc.difference.toFixed(3)} [${r.auc.ci.low.toFixed(3)}, ${r.auc.ci.high.toFixed(3)}]` : 'n/a',
        excludesZero(r.accuracy.ci) || (r.auc && excludesZero(r.auc.ci)) ? 'yes' : 'no',
      ]),
    ),
    '',
  );
  return out.join('\n');
}
