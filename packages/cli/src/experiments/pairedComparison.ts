/**
 * `experiments report`: is a difference between runs more than noise? Every finished run is
 * compared with the best one (by validation accuracy) on the test images both scored, read from
 * their predictions.csv, by a paired bootstrap (metrics/pairedBootstrap.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCsv } from '@cxr/data';
import { bootstrapDefaults } from '../metrics/intervals.ts';
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
  /** Differences the whole table shows (runs x metrics): the Bonferroni family. */
  family: number;
  result: PairedDifference;
}

/**
 * Every run against a reference chosen WITHOUT the test set (best validation accuracy; a
 * reference picked as the best on test would make the others look worse than they are). The
 * intervals are Bonferroni-adjusted for every difference the table shows (runs x metrics), so the
 * chance that any "yes" in it is a false alarm stays at 5%; the bootstrap gets enough resamples
 * for those wider tails.
 */
export function compareWithBest(
  folders: Record<string, string>,
  validationAccuracy: Record<string, number | null | undefined>,
  seed?: number,
  /** Filled with 'name (reason)' for each run that cannot be paired with the reference. */
  notCompared: string[] = [],
): PairedRow[] {
  const scored = Object.entries(folders)
    .map(([name, f]) => [name, readTestScores(f)] as const)
    .filter(([, s]) => s !== null) as [string, RunScores][];
  if (scored.length < 2) return [];
  const best = scored.reduce((a, b) => ((validationAccuracy[b[0]] ?? -1) > (validationAccuracy[a[0]] ?? -1) ? b : a));
  const others = scored.filter(([n, s]) => {
    if (n === best[0]) return false;
    const why = whyNotPaired(best[1], s);
    if (why) notCompared.push(`${n} (${why} with ${best[0]})`);
    return !why;
  });
  if (!others.length) return [];
  const binary = best[1].probs.values().next().value!.length === 2;
  const family = others.length * (binary ? 2 : 1);
  const level = 1 - familyErrorRate / family;
  // At least ~10 resamples beyond each end of the interval.
  const resamples = Math.min(20000, Math.max(bootstrapDefaults.resamples, Math.ceil(20 / (1 - level))));
  return others.map(([name, s]) => ({ name, reference: best[0], family, result: pairedBootstrap(best[1], s, { seed, level, resamples }) }));
}

/**
 * Why two runs cannot be compared image by image, or null. A grid may vary the data (or the
 * classes): such runs share no test images, and the paired bootstrap's error for that one pair
 * used to abort `experiments report` as a whole, so no report.md was written for any run.
 */
function whyNotPaired(a: RunScores, b: RunScores): string | null {
  const classes = (s: RunScores) => s.probs.values().next().value!.length;
  if (classes(a) !== classes(b)) return `${classes(b)} classes against ${classes(a)}`;
  const shared = [...a.probs.keys()].filter((k) => b.probs.has(k));
  if (shared.length === 0) return 'no test image in common';
  if (shared.some((k) => a.labels.get(k) !== b.labels.get(k))) return 'the shared test images carry other labels';
  return null;
}

/** The chance of at least one false "yes" in a paired-comparison table. */
export const familyErrorRate = 0.05;

export function formatPairedComparison(rows: readonly PairedRow[], notCompared: readonly string[] = []): string {
  const skipped = notCompared.length ? `Not compared (no paired test images): ${notCompared.join('; ')}.\n` : '';
  if (!rows.length) return skipped && `## Paired comparison with the best run\n\n${skipped}`;
  const pts = (v: number) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}`;
  const excludesZero = (ci: { low: number; high: number }) => ci.low > 0 || ci.high < 0;
  const r0 = rows[0].result;
  const levelText = `${+(r0.level * 100).toFixed(2)}%`;
  const out = [
    '## Paired comparison with the best run',
    '',
    `Each run minus **${rows[0].reference}** (best validation accuracy: chosen without the test set) on the same test images: paired stratified bootstrap, ${r0.resamples} resamples, seed ${r0.seed}. The ${rows[0].family} intervals are Bonferroni-adjusted (${levelText} each), so the chance that any "yes" below is a false alarm is at most ${familyErrorRate * 100}%; a difference whose interval contains 0 is not distinguishable from noise on this test set.`,
    '',
  ];
  out.push(
    markdownTable(
      ['Run', 'Images', `Accuracy difference (points) [${levelText} CI]`, `AUC difference [${levelText} CI]`, 'Beyond noise?'],
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
  if (skipped) out.push(skipped);
  return out.join('\n');
}
