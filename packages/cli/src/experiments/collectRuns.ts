/**
 * `experiments report` input: finds each grid run's folder under one or more roots (shards may
 * have written to different roots that were copied together) and summarises it. A finished copy
 * wins over an unfinished one, so merging folders from several machines is order-independent.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainConfig } from '../config/trainConfig.ts';
import type { RunSummary } from '../report/comparisonTable.ts';
import type { RunHistory } from '../report/overlayChart.ts';
import { readHistory } from '../run/historyCsv.ts';
import { isRunFinished, readJsonFile, runFiles } from '../run/runFolder.ts';
import type { RunMetrics } from '../run/runMetrics.ts';
import { taskTitles, type ExperimentRun } from './seedStudy.ts';

export interface CollectedRuns {
  summaries: RunSummary[];
  histories: RunHistory[];
  /** Folder used for each run name that was found. */
  folders: Record<string, string>;
}

function findFolder(roots: readonly string[], name: string): string | undefined {
  const candidates = roots.map((r) => join(r, name)).filter((d) => existsSync(d) && statSync(d).isDirectory());
  return candidates.find(isRunFinished) ?? candidates[0];
}

/** The settings a run folder's config.json records; the grid's only where the folder has none. */
function recordedSettings(run: ExperimentRun, folder: string | undefined): Pick<RunSummary, 'arch' | 'head' | 'freeze' | 'lr'> {
  const path = folder === undefined ? undefined : join(folder, runFiles.config);
  // The table describes what was trained: a folder from an older grid or another --profile
  // must not be reported under the settings the grid file names today.
  const stored = path && existsSync(path) ? readJsonFile<Partial<TrainConfig>>(path) : {};
  return {
    arch: stored.arch ?? run.options.arch,
    head: stored.head ?? run.options.head,
    freeze: stored.freeze ?? run.options.freeze,
    lr: stored.lr ?? run.options.lr,
  };
}

export function summariseRun(run: ExperimentRun, folder: string | undefined): RunSummary {
  const base: RunSummary = {
    name: run.name,
    task: run.task ? taskTitles[run.task] : undefined,
    ...recordedSettings(run, folder),
    status: folder === undefined ? 'missing' : isRunFinished(folder) ? 'finished' : 'unfinished',
  };
  if (base.status !== 'finished') return base;
  const metrics = readJsonFile<RunMetrics>(join(folder!, runFiles.metrics));
  const test = metrics.splits?.test;
  return {
    ...base,
    valAccuracy: metrics.splits?.val?.accuracy ?? null,
    testAccuracy: test?.accuracy ?? null,
    testF1: test?.f1 ?? null,
    testF1Class: test?.positiveClass ?? null,
    testClassCount: test?.classNames?.length,
    testMacroF1: test?.macroF1 ?? null,
    testAuc: test?.auc ?? null,
    bestEpoch: metrics.bestEpoch,
  };
}

export function collectRuns(runs: readonly ExperimentRun[], roots: readonly string[]): CollectedRuns {
  const summaries: RunSummary[] = [];
  const histories: RunHistory[] = [];
  const folders: Record<string, string> = {};
  for (const run of runs) {
    const folder = findFolder(roots, run.name);
    summaries.push(summariseRun(run, folder));
    if (folder) {
      folders[run.name] = folder;
      const history = readHistory(folder);
      if (history.length > 0) histories.push({ name: run.name, history });
    }
  }
  return { summaries, histories, folders };
}

/** Sub-folders of a root, for merging roots whose layout is not known in advance. */
export function listRunFolders(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((f) => join(root, f))
    .filter((d) => statSync(d).isDirectory() && existsSync(join(d, runFiles.config)));
}
