/**
 * Shape of metrics.json: the metrics of every evaluated split plus when the kept (best) checkpoint
 * was taken. Shared by the train loop (writer), `eval`, report.md and `experiments report`
 * (readers), so they agree on the field names.
 */
import type { SkippedFile } from '@cxr/data';
import type { ClassificationMetrics } from '../metrics/classificationMetrics.ts';
import type { Evidence } from '../report/evidence.ts';

export const splitNames = ['train', 'val', 'test'] as const;
export type SplitName = (typeof splitNames)[number];

export interface RunMetrics {
  /** Bumped if the layout changes, so old run folders can be recognised. */
  version: 1;
  /** Epoch whose weights were kept (best by selectBy). */
  bestEpoch: number;
  /** Epochs asked for. */
  epochs: number;
  /** Epochs actually trained (fewer when --patience stopped the run early). */
  epochsRun?: number;
  stoppedEarly?: boolean;
  patience?: number;
  /** What picked bestEpoch (--select-by). */
  selectBy?: string;
  /** Class the binary metrics treat as positive (null: three or more classes without --positive). */
  positiveClass?: string | null;
  /** Class names in output order. */
  classes?: string[];
  /** Wall time of the whole run in seconds. */
  seconds?: number;
  splits: Partial<Record<SplitName, ClassificationMetrics>>;
  /** Images left out because they could not be decoded (--skip-bad-images), by split; absent when none. */
  skipped?: Partial<Record<SplitName, SkippedFile[]>>;
  /** The initial weights actually used ('imagenet' may fall back to random init offline); absent in older runs. */
  weightsUsed?: string;
  /** Intervals, threshold, calibration and Grad-CAM figures (report/evidence.ts); absent in older runs. */
  evidence?: Evidence;
}
