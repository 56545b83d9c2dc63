/**
 * `cxr data audit` and the audit at the start of `train`: runs @cxr/data's measurements over every
 * split of an image folder and turns them into findings (audit.json): duplicates within and
 * across splits, patient groups shared between splits, and the shortcut probe's cross-validated
 * AUC with a 95% interval and its most predictive feature. Above 0.8 the probe "fires": the labels
 * can be told apart from file properties alone, so a model may learn the source, not the disease.
 */
import { availableParallelism } from 'node:os';
import {
  auditDataset,
  nearDuplicateDistance,
  type AuditOptions,
  type PreparedImages,
  type DuplicatePair,
  type GroupOverlap,
  type ImageFolder,
  type ShortcutProbe,
} from '@cxr/data';
import { bootstrapDefaults, bootstrapInterval, type Interval } from '../metrics/intervals.ts';
import { rocAuc } from '../metrics/rocAuc.ts';

export const shortcutAucThreshold = 0.8;

export interface DataAudit {
  version: 1;
  root: string;
  files: number;
  counts: Record<string, Record<string, number>>;
  /** Per class, how many files of each kind (format, bit depth, grey/colour): where the images came from, roughly. */
  fileKinds: Record<string, Record<string, number>>;
  duplicates: {
    nearDuplicateDistance: number;
    hashBits: 256;
    exactWithinSplit: number;
    nearWithinSplit: number;
    /** Leakage: every pair whose two files lie in different splits. */
    crossSplit: DuplicatePair[];
  };
  /** Patient groups in more than one split; null when the data has no groups. */
  patientOverlap: GroupOverlap[] | null;
  shortcutProbe: {
    classifier: string;
    positiveClass: string;
    folds: number;
    seed: number;
    auc: number | null;
    ci: Interval | null;
    resamples: number;
    threshold: number;
    fires: boolean;
    mostPredictive: { feature: string; auc: number } | null;
    perFeature: { feature: string; auc: number | null }[];
    /** Three or more classes: each class against the rest (the fields above are the strongest's). */
    perClass?: { class: string; auc: number | null }[];
  } | null;
  unreadable: { file: string; reason: string }[];
  /** One plain sentence per problem found (empty when none). */
  findings: string[];
  seconds: number;
}

/** AUC with its bootstrap interval, and each feature's own AUC, of one class-against-the-rest probe. */
function summariseProbe(p: ShortcutProbe): NonNullable<DataAudit['shortcutProbe']> {
  const pos = p.targets.map((t) => t === 1);
  const auc = rocAuc(p.scores, pos);
  const scores = p.scores;
  const ci = bootstrapInterval(
    p.targets,
    (idx) =>
      rocAuc(
        Array.from(idx, (i) => scores[i]),
        Array.from(idx, (i) => pos[i]),
      ),
    { seed: p.seed, resamples: bootstrapDefaults.resamples },
  );
  const perFeature = p.perFeature.map((f) => ({ feature: f.name, auc: rocAuc(f.scores, pos) }));
  const best = perFeature.filter((f) => f.auc !== null).sort((a, b) => b.auc! - a.auc!)[0];
  return {
    classifier: `logistic regression (L2, standardised features), ${p.folds}-fold stratified cross-validation, out-of-fold scores`,
    positiveClass: p.positiveClass,
    folds: p.folds,
    seed: p.seed,
    auc,
    ci,
    resamples: bootstrapDefaults.resamples,
    threshold: shortcutAucThreshold,
    fires: auc !== null && auc > shortcutAucThreshold,
    mostPredictive: best ? { feature: best.feature, auc: best.auc! } : null,
    perFeature,
  };
}

export async function auditImageFolder(
  folder: ImageFolder,
  options: {
    seed?: number;
    onProgress?: (done: number, total: number) => void;
    imageCache?: AuditOptions['imageCache'];
    prepare?: AuditOptions['prepare'];
  } = {},
): Promise<{ audit: DataAudit; prepared: PreparedImages }> {
  const t0 = performance.now();
  const samples = (['train', 'val', 'test'] as const).flatMap((split) =>
    folder.splits[split].map((s) => ({ file: s.file, split, label: folder.classes[s.label], group: s.group })),
  );
  // Every core: nothing else runs during an audit, and decoding is nearly all of it.
  const m = await auditDataset(samples, {
    seed: options.seed,
    onProgress: options.onProgress,
    imageCache: options.imageCache,
    prepare: options.prepare,
    workers: availableParallelism(),
  });
  const within = m.duplicates.filter((d) => !d.crossSplit);
  const cross = m.duplicates.filter((d) => d.crossSplit);
  // Every class against the rest where there are three or more (else the positive class's probe):
  // the headline is the strongest, so a shortcut between any two sources fires.
  const candidates = (m.probesByClass ?? (m.probe ? [m.probe] : [])).map((p) => summariseProbe(p));
  const probe: DataAudit['shortcutProbe'] = candidates.length
    ? {
        ...candidates.reduce((a, b) => ((b.auc ?? -1) > (a.auc ?? -1) ? b : a)),
        ...(m.probesByClass ? { perClass: candidates.map((c) => ({ class: c.positiveClass, auc: c.auc })) } : {}),
      }
    : null;
  const labelOf = new Map(samples.map((s) => [s.file, s.label]));
  const fileKinds: Record<string, Record<string, number>> = {};
  for (const f of m.facts) {
    const kind = `${f.format.toUpperCase()} ${f.bitDepth}-bit ${f.channels === 1 ? 'grey' : 'colour'}`;
    const k = (fileKinds[labelOf.get(f.file)!] ??= {});
    k[kind] = (k[kind] ?? 0) + 1;
  }
  const findings: string[] = [];
  if (cross.length)
    findings.push(
      `${cross.length} duplicate pair(s) span two splits (${cross.filter((d) => d.kind === 'exact').length} exact, ${cross.filter((d) => d.kind === 'near').length} near): the model is evaluated on images it trained on; \`train --dedupe\` drops them from the smaller split.`,
    );
  if (within.length)
    findings.push(
      `${within.length} duplicate pair(s) within a split (${within.filter((d) => d.kind === 'exact').length} exact): they weigh those images twice.`,
    );
  if (m.patientOverlap?.length) findings.push(`${m.patientOverlap.length} patient group(s) appear in more than one split: patient leakage.`);
  if (probe?.fires)
    findings.push(
      `The label can be predicted from file properties alone (shortcut probe AUC ${probe.auc!.toFixed(3)} > ${shortcutAucThreshold}${probe.perClass ? ` for '${probe.positiveClass}' against the rest` : ''}; strongest: ${probe.mostPredictive?.feature}): a model may learn the source or format of the images rather than the disease.`,
    );
  if (m.unreadable.length) findings.push(`${m.unreadable.length} file(s) could not be read.`);
  const audit: DataAudit = {
    version: 1,
    root: folder.root,
    files: m.files,
    counts: folder.counts(),
    fileKinds,
    duplicates: {
      nearDuplicateDistance,
      hashBits: 256,
      exactWithinSplit: within.filter((d) => d.kind === 'exact').length,
      nearWithinSplit: within.filter((d) => d.kind === 'near').length,
      crossSplit: cross,
    },
    patientOverlap: m.patientOverlap,
    shortcutProbe: probe,
    unreadable: m.unreadable,
    findings,
    seconds: (performance.now() - t0) / 1000,
  };
  return { audit, prepared: m.prepared };
}

/**
 * `--dedupe`: removes, for each cross-split duplicate pair, the copy in the smaller split (the
 * evaluation split, usually), so no image is both trained and tested on. Returns the files dropped.
 */
export function dropCrossSplitDuplicates(folder: ImageFolder, audit: DataAudit): string[] {
  const size = (s: string) => folder.splits[s as 'train' | 'val' | 'test'].length;
  const drop = new Set<string>();
  for (const d of audit.duplicates.crossSplit) {
    const [keep, lose] = size(d.a.split) >= size(d.b.split) ? [d.a, d.b] : [d.b, d.a];
    if (!drop.has(keep.file)) drop.add(lose.file);
  }
  dropFiles(folder, drop);
  return [...drop];
}

/** Removes `files` from every split of `folder` (in place: the folder's split arrays are shared). */
export function dropFiles(folder: ImageFolder, files: ReadonlySet<string>): void {
  for (const s of ['train', 'val', 'test'] as const) {
    const kept = folder.splits[s].filter((x) => !files.has(x.file));
    folder.splits[s].length = 0;
    folder.splits[s].push(...kept);
  }
}
