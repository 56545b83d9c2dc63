/**
 * The audit at the start of `train`: measured on the folder as loaded, before the run folder is
 * touched, problems printed loudly; with --dedupe, cross-split duplicates leave the smaller split
 * before any loader sees them. `writeAuditFile` stores it once the run folder is prepared.
 */
import { join } from 'node:path';
import type { AuditOptions, ImageFolder, PreparedImages } from '@cxr/data';
import { writeJsonAtomic } from '../run/atomicWrite.ts';
import { runFiles } from '../run/runFolder.ts';
import { auditImageFolder, dropCrossSplitDuplicates, type DataAudit } from './dataAudit.ts';
import { formatAuditText } from './auditReport.ts';

export const auditFile = runFiles.audit;

/** The audit as `train` keeps it: with the files `--dedupe` dropped. */
export type TrainingAudit = DataAudit & {
  dropped?: string[];
  /** Images per split and class after `--dedupe` (`counts` is what the audit found). */
  countsUsed?: DataAudit['counts'];
};

export async function auditBeforeTraining(
  folder: ImageFolder,
  options: {
    seed: number;
    dedupe: boolean;
    /** the training pass's image cache, filled from the audit's decode (trainingImageCache) */
    imageCache?: AuditOptions['imageCache'];
    /** evaluation images made from the audit's decode, for the evaluation loaders (evaluationImages) */
    prepare?: AuditOptions['prepare'];
    log: (m: string) => void;
    warn: (m: string) => void;
  },
): Promise<{ audit: TrainingAudit; prepared: PreparedImages }> {
  const total = folder.splits.train.length + folder.splits.val.length + folder.splits.test.length;
  options.log(
    `data audit: reading ${total} images (duplicates, patient overlap, shortcut probe${options.imageCache ? '; the training images go into the image cache as they are read' : ''}${options.prepare ? '; evaluation images are prepared from the same decode' : ''})…`,
  );
  let shown = 0;
  const { audit, prepared }: { audit: TrainingAudit; prepared: PreparedImages } = await auditImageFolder(folder, {
    seed: options.seed,
    imageCache: options.imageCache,
    prepare: options.prepare,
    // Large folders take a while: a line per quarter, so the wait is visible in logs too.
    onProgress:
      total >= 400
        ? (done) => {
            if (done / total >= (shown + 1) / 4) {
              shown++;
              options.log(`data audit: ${done}/${total} images`);
            }
          }
        : undefined,
  });
  const text = formatAuditText(audit);
  if (audit.findings.length) options.warn(`\n${'!'.repeat(72)}\n${text}\n${'!'.repeat(72)}`);
  else options.log(text);
  if (options.dedupe && audit.duplicates.crossSplit.length) {
    audit.dropped = dropCrossSplitDuplicates(folder, audit);
    audit.countsUsed = folder.counts();
    for (const f of audit.dropped) prepared.images.delete(f);
    options.warn(`--dedupe: dropped ${audit.dropped.length} cross-split duplicate(s) from the smaller split`);
  } else if (audit.duplicates.crossSplit.length) {
    options.warn('train continues with the duplicates; pass --dedupe to drop them from the smaller split');
  }
  return { audit, prepared };
}

export function writeAuditFile(dir: string, audit: DataAudit): void {
  writeJsonAtomic(join(dir, auditFile), audit);
}
