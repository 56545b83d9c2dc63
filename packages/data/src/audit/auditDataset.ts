/**
 * The data audit's measurements for a labelled, split dataset: file facts, exact and near
 * duplicates within and across splits, patient groups shared between splits, and the shortcut
 * probe's out-of-fold scores (all non-anatomical features together, and each one alone, so the
 * caller can name the most predictive). Scoring the probe (AUC, interval, verdict) is left to the
 * caller, which owns the metrics.
 */
import type { CacheConfig } from '../loader/cache.ts';
import { cacheLedger } from '../loader/cacheWriter.ts';
import type { PreparedImages } from '../loader/dataloader.ts';
import { WorkerPool } from '../loader/pool.ts';
import type { Image } from '../image.ts';
import type { TransformSpec } from '../transforms/pipeline.ts';
import { readForAudit, type AuditExtras, type FileFacts } from './fileFacts.ts';
import { findDuplicates, patientOverlap, type DuplicatePair, type GroupOverlap } from './duplicates.ts';
import { crossValidatedScores } from './logisticProbe.ts';
import { shortcutFeatureNames, shortcutFeatures } from './shortcutFeatures.ts';

export interface AuditSample {
  file: string;
  split: string;
  label: string;
  group?: string;
}

/** A cross-validated probe of one class against the rest, from file properties alone. */
export interface ShortcutProbe {
  positiveClass: string;
  /** 1 for the positive class, 0 otherwise, in sample order. */
  targets: number[];
  /** Out-of-fold probabilities from all features. */
  scores: Float64Array;
  /** Out-of-fold probabilities from each feature alone. */
  perFeature: { name: string; scores: Float64Array }[];
  folds: number;
  seed: number;
}

export interface AuditMeasurements {
  files: number;
  facts: FileFacts[];
  duplicates: DuplicatePair[];
  /** null when no sample carries a group. */
  patientOverlap: GroupOverlap[] | null;
  probe: ShortcutProbe | null;
  /**
   * Three or more classes: the same probe for every class against the rest (the one above among
   * them), so that a shortcut between two other sources (Kaggle's viral pneumonia and normal
   * images) shows as well. Absent with two classes.
   */
  probesByClass?: ShortcutProbe[];
  /** Files that could not be read or decoded, with the reason. */
  unreadable: { file: string; reason: string }[];
  /** The images `prepare` asked for, by file (within its byte cap), for DataLoader `prepared`. */
  prepared: PreparedImages;
}

export interface AuditOptions {
  positiveClass?: string;
  folds?: number;
  seed?: number;
  onProgress?: (done: number, total: number) => void;
  /**
   * Threads that read and decode the files (0: this thread). Decoding is nearly all of an audit's
   * time (~22 ms a real X-ray), and nothing else runs meanwhile: use the cores.
   */
  workers?: number;
  /**
   * The training loader's decoded-image cache and the files it will read through it: their
   * entries are written from the audit's own decode, so the first epoch does not decode them again.
   */
  imageCache?: { config: CacheConfig; files: ReadonlySet<string> };
  /**
   * Evaluation images made from the audit's own decode, for loaders with these deterministic
   * transforms (DataLoader `prepared`): the files wanted, and a cap on the bytes kept, past which
   * the rest are left for the loaders to decode.
   */
  prepare?: { transforms: TransformSpec[]; files: ReadonlySet<string>; maxBytes: number };
}

export async function auditDataset(samples: readonly AuditSample[], options: AuditOptions = {}): Promise<AuditMeasurements> {
  const facts: FileFacts[] = [];
  const kept: AuditSample[] = [];
  const unreadable: { file: string; reason: string }[] = [];
  const prepared = new Map<string, Image>();
  let preparedBytes = 0;
  const pool = options.workers ? new WorkerPool(Math.min(options.workers, samples.length)) : null;
  try {
    // Every file is queued at once; the results are taken in sample order, so the audit is the
    // same whatever the number of threads.
    const { imageCache, prepare } = options;
    // one counter for every thread that writes entries: per-thread counters each allowed the whole cap
    const ledger = imageCache && imageCache.config.maxBytes !== undefined ? cacheLedger(imageCache.config.dir) : undefined;
    const extras = (file: string): AuditExtras => ({
      imageCache: imageCache?.files.has(file) ? imageCache.config : undefined,
      cacheLedger: imageCache?.files.has(file) ? ledger : undefined,
      prepare: prepare?.files.has(file) ? prepare.transforms : undefined,
    });
    const pending = pool ? samples.map((s) => pool.describe(s.file, extras(s.file))) : null;
    for (const p of pending ?? []) p.catch(() => undefined);
    for (let i = 0; i < samples.length; i++) {
      try {
        const read = await (pending ? pending[i] : readForAudit(samples[i].file, extras(samples[i].file)));
        facts.push(read.facts);
        if (read.prepared && preparedBytes + read.prepared.data.byteLength <= (prepare?.maxBytes ?? 0)) {
          prepared.set(samples[i].file, read.prepared);
          preparedBytes += read.prepared.data.byteLength;
        }
        kept.push(samples[i]);
      } catch (e) {
        unreadable.push({ file: samples[i].file, reason: (e as Error).message.split('\n')[0] });
      }
      options.onProgress?.(i + 1, samples.length);
    }
  } finally {
    await pool?.close();
  }
  const duplicates = findDuplicates(kept.map((s, i) => ({ file: s.file, split: s.split, label: s.label, sha256: facts[i].sha256, phash: facts[i].phash })));
  const grouped = kept.some((s) => s.group !== undefined);
  const labels = [...new Set(kept.map((s) => s.label))].sort();
  const wanted = (options.positiveClass ?? 'infected').toLowerCase();
  const positiveClass = labels.find((l) => l.toLowerCase() === wanted) ?? labels[0];
  const folds = options.folds ?? 5;
  const seed = options.seed ?? 0;
  const X = facts.map(shortcutFeatures);
  const probeFor = (cls: string): ShortcutProbe | null => {
    const targets = kept.map((s) => (s.label === cls ? 1 : 0));
    const minority = Math.min(targets.filter((t) => t === 1).length, targets.filter((t) => t === 0).length);
    if (labels.length < 2 || minority < 2) return null;
    const k = Math.min(folds, minority);
    return {
      positiveClass: cls,
      targets,
      folds: k,
      seed,
      scores: crossValidatedScores(X, targets, { folds: k, seed }),
      perFeature: shortcutFeatureNames.map((name, j) => ({
        name,
        scores: crossValidatedScores(
          X.map((r) => [r[j]]),
          targets,
          { folds: k, seed },
        ),
      })),
    };
  };
  const probe = probeFor(positiveClass);
  const probesByClass =
    labels.length > 2 ? labels.map((l) => (l === positiveClass ? probe : probeFor(l))).filter((p): p is ShortcutProbe => p !== null) : undefined;
  return {
    files: kept.length,
    facts,
    duplicates,
    patientOverlap: grouped ? patientOverlap(kept) : null,
    probe,
    ...(probesByClass ? { probesByClass } : {}),
    unreadable,
    prepared: { transforms: options.prepare?.transforms ?? [], images: prepared },
  };
}
