/**
 * The run folder (runs/NAME): which files it holds, whether it may be (re)used, and the JSON files
 * written into it. metrics.json is the completion marker: the train loop writes it last, so a
 * folder without it is an unfinished run whatever else it contains. A folder is only ever treated
 * as a CXR run when it holds config.json or trainer.json; anything else in --out is the user's and
 * is never deleted, not even by --force.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tmpPrefix, writeJsonAtomic } from './atomicWrite.ts';
import { formatList } from '@cxr/nn';

export const runFiles = {
  config: 'config.json',
  metrics: 'metrics.json',
  history: 'history.csv',
  model: 'model.safetensors',
  report: 'report.md',
  curves: 'curves.png',
  confusion: 'confusion.png',
  samples: 'samples.png',
  predictions: 'predictions.csv',
  // The evidence a finished run writes beside them (report/evidence.ts, audit/trainingAudit.ts):
  // listed here so that `--force` clears them with the rest, never leaving an old run's model
  // card or ROC curve next to a new run's config.
  audit: 'audit.json',
  roc: 'roc.png',
  pr: 'pr.png',
  calibration: 'calibration.png',
  modelCard: 'MODEL_CARD.md',
} as const;

/** The per-epoch checkpoint set; see train/checkpoint.ts for how it is written and checked. */
export const checkpointFiles = {
  /** Weights after the last completed epoch (resume starts from here). */
  last: 'last.safetensors',
  /** Weights of the best epoch by validation accuracy (copied to model.safetensors at the end). */
  best: 'best.safetensors',
  optimizer: 'optimizer.safetensors',
  trainer: 'trainer.json',
  /** The previous epoch's set, kept while the next one is written (a kill then falls back to it). */
  lastPrevious: 'last.previous.safetensors',
  optimizerPrevious: 'optimizer.previous.safetensors',
  trainerPrevious: 'trainer.previous.json',
} as const;

/** Held (exclusively, with the PID inside) for the life of a `train` on the folder. */
export const lockFileName = '.cxr-train.lock';

/** One-line, user-facing error; main.ts prints `message` and exits non-zero. */
export class RunFolderError extends Error {
  override name = 'RunFolderError';
}

export interface PrepareOptions {
  resume?: boolean;
  force?: boolean;
}

export type RunFolderState = 'fresh' | 'resume';

/** Interrupted writes: atomicWrite's `.tmp-NAME.PID.RAND` and the safetensors writer's `NAME.tmp-PID`. */
export function isTmpDebris(name: string): boolean {
  return name.startsWith(tmpPrefix) || /\.tmp-\d+$/.test(name);
}

/** Whether `name` is a file `cxr train` / `cxr eval` writes into a run folder. */
export function isRunFile(name: string): boolean {
  return (
    (Object.values(runFiles) as string[]).includes(name) ||
    (Object.values(checkpointFiles) as string[]).includes(name) ||
    /^eval-(train|val|test)(-on-.+)?\.json$/.test(name) ||
    name === lockFileName ||
    isTmpDebris(name)
  );
}

function entries(dir: string): string[] {
  return existsSync(dir) && statSync(dir).isDirectory() ? readdirSync(dir) : [];
}

/** Nothing in the folder but debris or a lock: not a run, and nothing of the user's to lose. */
function isOccupied(dir: string): boolean {
  return entries(dir).some((f) => !isTmpDebris(f) && f !== lockFileName);
}

/** A CXR run folder is one that a `train` has written its config or checkpoint into. */
export function isRunFolder(dir: string): boolean {
  return existsSync(join(dir, runFiles.config)) || existsSync(join(dir, checkpointFiles.trainer));
}

export function isRunFinished(dir: string): boolean {
  return existsSync(join(dir, runFiles.metrics));
}

/** Deletes leftovers of writes interrupted before their rename (they can be >1 GB for VGG16). */
export function removeTmpDebris(dir: string): string[] {
  const removed = entries(dir).filter(isTmpDebris);
  for (const f of removed) rmSync(join(dir, f), { force: true });
  return removed;
}

/** Deletes only the files a CXR run writes; the user's own files stay. Returns what was kept. */
export function removeRunFiles(dir: string): string[] {
  const kept: string[] = [];
  for (const f of entries(dir)) {
    if (f === lockFileName) continue; // ours, held by the caller
    if (isRunFile(f)) rmSync(join(dir, f), { force: true });
    else kept.push(f);
  }
  return kept;
}

function notARun(dir: string): RunFolderError {
  return new RunFolderError(
    `${dir} is not a CXR run folder (no ${runFiles.config} or ${checkpointFiles.trainer}) but holds ${formatList(entries(dir).sort(), 5)}; nothing was changed: choose an empty or new --out`,
  );
}

/**
 * Checks, without changing anything, what `prepareRunFolder` would do with `dir`. Called before
 * the inputs are validated and again under the lock, so nothing is touched until all is known good.
 */
export function inspectRunFolder(dir: string, options: PrepareOptions = {}): RunFolderState {
  if (options.resume && options.force) {
    throw new RunFolderError('--resume and --force contradict each other; pass only one');
  }
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new RunFolderError(`${dir} exists and is not a folder; choose another --out`);
  }
  const occupied = isOccupied(dir);
  if (occupied && !isRunFolder(dir)) throw notARun(dir);
  if (options.resume) {
    if (!occupied) throw new RunFolderError(`nothing to resume in ${dir}; drop --resume to start a new run there`);
    return 'resume';
  }
  if (occupied && !options.force) {
    const what = isRunFinished(dir) ? 'a finished run' : 'an unfinished run';
    throw new RunFolderError(`${dir} already holds ${what}; pass --resume to continue it, --force to overwrite it, or another --out`);
  }
  return 'fresh';
}

/**
 * Makes `dir` ready for a run (call it holding the folder's lock). A new or empty folder is 'fresh'.
 * An existing run is an error unless `force` (its run files are deleted, other files stay: 'fresh')
 * or `resume` ('resume'; the caller loads the checkpoint). Interrupted-write debris is removed.
 */
export function prepareRunFolder(dir: string, options: PrepareOptions = {}): RunFolderState {
  const state = inspectRunFolder(dir, options);
  createFolder(dir);
  removeTmpDebris(dir);
  if (state === 'fresh') removeRunFiles(dir);
  return state;
}

/**
 * mkdir -p, one level at a time. Node's recursive mkdir never returns for a path under /proc
 * (ENOENT there is retried forever); creating each missing level ourselves fails with a message.
 */
export function createFolder(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      throw new RunFolderError(`cannot create the run folder ${dir} (${d}: ${code ?? (e as Error).message}); choose another --out`);
    }
  }
}

export function writeRunConfig(dir: string, config: unknown): void {
  writeJsonAtomic(join(dir, runFiles.config), config);
}

/** Writes metrics.json, which marks the run as finished; call it after every other artefact. */
export function writeRunMetrics(dir: string, metrics: unknown): void {
  writeJsonAtomic(join(dir, runFiles.metrics), metrics);
}

export function readJsonFile<T>(path: string): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new RunFolderError(`cannot read ${path}; check the path or rerun the run that writes it`);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new RunFolderError(`${path} is not valid JSON; delete it or rerun with --force`);
  }
}
