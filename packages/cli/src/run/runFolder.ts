/**
 * The run folder (runs/NAME): which files it holds, whether it may be (re)used, and the JSON files
 * written into it. metrics.json is the completion marker: the train loop writes it last, so a
 * folder without it is an unfinished run whatever else it contains.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpPrefix, writeJsonAtomic } from './atomicWrite.ts';

export const runFiles = {
  config: 'config.json',
  metrics: 'metrics.json',
  history: 'history.csv',
  model: 'model.safetensors',
  report: 'report.md',
  curves: 'curves.png',
  confusion: 'confusion.png',
  samples: 'samples.png',
} as const;

/** One-line, user-facing error; main.ts prints `message` and exits non-zero. */
export class RunFolderError extends Error {
  override name = 'RunFolderError';
}

export interface PrepareOptions {
  resume?: boolean;
  force?: boolean;
}

export type RunFolderState = 'fresh' | 'resume';

function isNonEmptyDir(dir: string): boolean {
  return existsSync(dir) && statSync(dir).isDirectory() && readdirSync(dir).some((f) => !f.startsWith(tmpPrefix));
}

export function isRunFinished(dir: string): boolean {
  return existsSync(join(dir, runFiles.metrics));
}

/** Deletes leftovers of writes interrupted before their rename. */
export function removeTmpDebris(dir: string): void {
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) if (f.startsWith(tmpPrefix)) rmSync(join(dir, f), { force: true });
}

/**
 * Makes `dir` ready for a run. A new or empty folder is 'fresh'. An existing run is an error unless
 * `force` (its contents are deleted: 'fresh') or `resume` ('resume'; the caller loads the checkpoint).
 */
export function prepareRunFolder(dir: string, options: PrepareOptions = {}): RunFolderState {
  if (options.resume && options.force) {
    throw new RunFolderError('--resume and --force contradict each other; pass only one');
  }
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new RunFolderError(`${dir} exists and is not a folder; choose another --out`);
  }
  const occupied = isNonEmptyDir(dir);
  if (options.resume) {
    if (!occupied) throw new RunFolderError(`nothing to resume in ${dir}; drop --resume to start a new run there`);
    removeTmpDebris(dir);
    return 'resume';
  }
  if (occupied && !options.force) {
    const what = isRunFinished(dir) ? 'a finished run' : 'an unfinished run';
    throw new RunFolderError(`${dir} already holds ${what}; pass --resume to continue it, --force to overwrite it, or another --out`);
  }
  if (occupied) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  removeTmpDebris(dir);
  return 'fresh';
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
