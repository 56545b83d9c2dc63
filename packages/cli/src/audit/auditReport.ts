/** The audit as terminal text (`cxr data audit`, the start of `train`) and as a report.md section. */
import { relative } from 'node:path';
import type { DataAudit } from './dataAudit.ts';
import { markdownTable } from '../report/markdownTable.ts';

const ci = (a: DataAudit['shortcutProbe']) => (a?.ci ? ` (95% CI ${a.ci.low.toFixed(3)}-${a.ci.high.toFixed(3)})` : '');

export function formatAuditText(a: DataAudit): string {
  const rel = (f: string) => relative(a.root, f) || f;
  const lines = [`data audit of ${a.root}: ${a.files} images in ${a.seconds.toFixed(1)} s`];
  const d = a.duplicates;
  lines.push(
    `  duplicates: ${d.crossSplit.length} across splits, ${d.exactWithinSplit} exact and ${d.nearWithinSplit} near within a split (near = perceptual hash within ${d.nearDuplicateDistance}/${d.hashBits} bits)`,
  );
  for (const p of d.crossSplit.slice(0, 10))
    lines.push(`    ${p.kind} ${rel(p.a.file)} (${p.a.split}) = ${rel(p.b.file)} (${p.b.split})${p.kind === 'near' ? `, distance ${p.distance}` : ''}`);
  if (d.crossSplit.length > 10) lines.push(`    … ${d.crossSplit.length - 10} more in audit.json`);
  lines.push(
    a.patientOverlap === null
      ? '  patient overlap: no patient groups given (a manifest with a group column enables this check)'
      : `  patient overlap: ${a.patientOverlap.length} group(s) in more than one split${
          a.patientOverlap.length
            ? `, e.g. ${a.patientOverlap
                .slice(0, 3)
                .map((g) => `${g.group} (${Object.keys(g.splits).join('+')})`)
                .join(', ')}`
            : ''
        }`,
  );
  const p = a.shortcutProbe;
  if (p)
    lines.push(
      `  shortcut probe: AUC ${p.auc === null ? 'n/a' : p.auc.toFixed(3)}${ci(p)} from file properties alone; strongest feature: ${p.mostPredictive ? `${p.mostPredictive.feature} (AUC ${p.mostPredictive.auc.toFixed(3)})` : 'n/a'}`,
    );
  else lines.push('  shortcut probe: not run (needs two classes with at least two images each)');
  for (const f of a.findings) lines.push(`  WARNING: ${f}`);
  if (!a.findings.length) lines.push('  no problems found');
  return lines.join('\n');
}

export function formatAuditReport(a: DataAudit): string {
  const rel = (f: string) => relative(a.root, f) || f;
  const out = ['## Data audit', ''];
  out.push(
    a.findings.length
      ? a.findings.map((f) => `- **${f}**`).join('\n')
      : '- No duplicates across splits, no patient overlap, and no shortcut found by the probe.',
    '',
  );
  const d = a.duplicates;
  out.push(
    `Duplicates (exact: same bytes; near: 256-bit DCT perceptual hash within ${d.nearDuplicateDistance} bits): ${d.crossSplit.length} pair(s) across splits, ${d.exactWithinSplit} exact and ${d.nearWithinSplit} near within a split.`,
    '',
  );
  if (d.crossSplit.length)
    out.push(
      markdownTable(
        ['Kind', 'File', 'Split', 'Duplicate', 'Split'],
        d.crossSplit.slice(0, 20).map((p) => [p.kind, rel(p.a.file), p.a.split, rel(p.b.file), p.b.split]),
      ),
      '',
    );
  out.push(
    a.patientOverlap === null
      ? 'Patient overlap: not checked (no patient groups).'
      : `Patient overlap: ${a.patientOverlap.length} group(s) in more than one split.`,
    '',
  );
  const p = a.shortcutProbe;
  if (p) {
    out.push(
      `Shortcut probe (${p.classifier}, predicting '${p.positiveClass}' from width, height, aspect ratio, bit depth, colour type, format, file size and border statistics): AUC **${p.auc?.toFixed(3) ?? 'n/a'}**${ci(p)}; above ${p.threshold} the data has a shortcut.`,
      '',
    );
    out.push(
      markdownTable(
        ['Feature alone', 'Cross-validated AUC'],
        [...p.perFeature].sort((x, y) => (y.auc ?? 0) - (x.auc ?? 0)).map((f) => [f.feature, f.auc === null ? 'n/a' : f.auc.toFixed(3)]),
        ['left', 'right'],
      ),
      '',
    );
  }
  return out.join('\n');
}
