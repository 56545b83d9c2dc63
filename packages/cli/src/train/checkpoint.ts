/**
 * The per-epoch checkpoint: last.safetensors (model), optimizer.safetensors and trainer.json, each
 * stamped with its epoch. Each file is atomic on its own, and the set is made atomic by keeping
 * the previous epoch's set (hard-linked as *.previous.*) until the new one is complete: a kill between
 * two files leaves one complete set, and resume checks the epochs agree before using one.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '@cxr/tensor';
import type { GradScalerState, Module, Optimizer, OptimizerStateDict, ParamState } from '@cxr/nn';
import {
  encodeModelInfo,
  loadWeights,
  NonFiniteWeightsError,
  openSafetensors,
  saveTensors,
  saveWeights,
  loadToDevice,
  WeightMismatchError,
  type ModelInfo,
} from '@cxr/models';
import { checkpointFiles, readJsonFile } from '../run/runFolder.ts';
import { linkOrCopyAtomic, writeJsonAtomic } from '../run/atomicWrite.ts';
import type { HistoryRow } from '../run/historyCsv.ts';
import type { SplitFingerprint } from './splitFingerprint.ts';

export { checkpointFiles };

/** Everything besides tensors that a resumed run needs to continue exactly. */
export interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  bestValAccuracy: number;
  /** Best --select-by score so far (larger is better; null before the first finite one). Absent in runs from before --select-by: they selected by accuracy. */
  bestScore?: number | null;
  bestEpoch: number;
  /** Dropout/initialisation generator state. */
  generator: { seed: number; calls: number };
  scheduler: { lastEpoch: number } | null;
  /** --precision f16: the loss scale and its growth counter (absent in float32 runs). */
  gradScaler?: GradScalerState | null;
  /**
   * history.csv's rows up to `epoch`, kept in the set so that a kill between the checkpoint and
   * history.csv can neither lose a row nor keep one the checkpoint does not have. Absent in older runs.
   */
  history?: HistoryRow[];
  /** The initial weights the run started from (buildModel's weightsUsed), for the report of a resumed run. Absent in older runs. */
  weightsUsed?: string;
  /** The splits the run trained on (before --dedupe), so that a resume on changed data stops. Absent in older runs. */
  splits?: SplitFingerprint;
  optimizerGroups: OptimizerStateDict['paramGroups'];
  /** Scalar per-parameter optimizer state (e.g. Adam's step), by parameter index. */
  optimizerScalars: Record<string, Record<string, number>>;
}

interface CheckpointSet {
  model: string;
  optimizer: string;
  trainer: string;
}

const currentSet: CheckpointSet = { model: checkpointFiles.last, optimizer: checkpointFiles.optimizer, trainer: checkpointFiles.trainer };
const previousSet: CheckpointSet = {
  model: checkpointFiles.lastPrevious,
  optimizer: checkpointFiles.optimizerPrevious,
  trainer: checkpointFiles.trainerPrevious,
};

/**
 * Model weights with the epoch and everything inference needs (ModelInfo: cxr.* keys) in the metadata.
 * `extra`: more metadata for the final model file (the decision rule: threshold, temperature).
 */
export async function saveModel(path: string, model: Module, epoch: number, info: ModelInfo, extra: Record<string, string> = {}): Promise<void> {
  try {
    await saveWeights(model, path, { format: 'cxr', epoch: String(epoch), ...encodeModelInfo({ ...info, epoch }), ...extra }, { requireFinite: true });
  } catch (e) {
    if (!(e instanceof NonFiniteWeightsError)) throw e;
    throw new Error(`training diverged: the model's parameters are no longer finite after epoch ${epoch} (${e.message}); lower the learning rate`, {
      cause: e,
    });
  }
}

/**
 * Gives set `from`'s files the names of set `to` as well (hard links; copies where the file system
 * has none). Not a rename: a kill halfway through a move left neither set complete (a set with
 * its trainer.json moved away and one without its weights), while `from` stays whole here.
 */
function linkSet(dir: string, from: CheckpointSet, to: CheckpointSet): void {
  for (const k of ['trainer', 'optimizer', 'model'] as const) {
    if (existsSync(join(dir, from[k]))) linkOrCopyAtomic(join(dir, from[k]), join(dir, to[k]));
  }
}

function removeSet(dir: string, set: CheckpointSet): void {
  for (const f of Object.values(set)) rmSync(join(dir, f), { force: true });
}

export async function saveCheckpoint(
  dir: string,
  model: Module,
  optimizer: Optimizer<{ lr: number }>,
  state: Omit<TrainerState, 'optimizerGroups' | 'optimizerScalars'>,
  info: ModelInfo,
): Promise<void> {
  // The complete set of the epoch before stays, under other names, until this one is whole.
  if (readSetEpoch(dir, currentSet) !== null) {
    removeSet(dir, previousSet);
    linkSet(dir, currentSet, previousSet);
  }
  const metadata = { format: 'cxr', epoch: String(state.epoch) };
  await saveModel(join(dir, checkpointFiles.last), model, state.epoch, info);
  const sd = optimizer.stateDict();
  const tensors = new Map<string, T.Tensor>();
  const scalars: Record<string, Record<string, number>> = {};
  for (const [i, s] of sd.state) {
    for (const [k, v] of Object.entries(s)) {
      if (v instanceof T.Tensor) tensors.set(`${i}.${k}`, v);
      else (scalars[i] ??= {})[k] = v as number;
    }
  }
  await saveTensors(join(dir, checkpointFiles.optimizer), tensors, metadata);
  // The trainer state goes last: with it the set is complete.
  writeJsonAtomic(join(dir, checkpointFiles.trainer), { ...state, optimizerGroups: sd.paramGroups, optimizerScalars: scalars } satisfies TrainerState);
  removeSet(dir, previousSet);
}

/** The epoch stamped in a safetensors file's metadata, or null (missing, unreadable, unstamped). */
export function fileEpoch(path: string): number | null {
  if (!existsSync(path)) return null;
  try {
    const f = openSafetensors(path);
    f.close();
    const e = Number(f.metadata.epoch);
    return Number.isInteger(e) ? e : null;
  } catch {
    return null;
  }
}

/** The epoch of a set whose three files all exist and agree, else null. */
function readSetEpoch(dir: string, set: CheckpointSet): number | null {
  if (!existsSync(join(dir, set.trainer))) return null;
  let epoch: number;
  try {
    epoch = readJsonFile<TrainerState>(join(dir, set.trainer)).epoch;
  } catch {
    return null;
  }
  const model = fileEpoch(join(dir, set.model));
  // Optimizers without tensor state (plain SGD) still write a stamped, tensor-less file.
  const opt = fileEpoch(join(dir, set.optimizer));
  return model === epoch && opt === epoch ? epoch : null;
}

/** The set a resume loads: the newest whose three files agree, or null. */
function newestCompleteSet(dir: string): CheckpointSet | null {
  if (readSetEpoch(dir, currentSet) !== null) return currentSet;
  return readSetEpoch(dir, previousSet) !== null ? previousSet : null;
}

/** The split fingerprint of the set a resume would load, if it has one. */
export function checkpointSplits(dir: string): SplitFingerprint | undefined {
  const set = newestCompleteSet(dir);
  return set ? readJsonFile<TrainerState>(join(dir, set.trainer)).splits : undefined;
}

export function hasCheckpoint(dir: string): boolean {
  return (
    readSetEpoch(dir, currentSet) !== null ||
    readSetEpoch(dir, previousSet) !== null ||
    existsSync(join(dir, checkpointFiles.trainer)) ||
    existsSync(join(dir, checkpointFiles.last))
  );
}

/** Why the newest files cannot be used, for the message when the previous set is used instead. */
function describeSet(dir: string, set: CheckpointSet): string {
  const trainerEpoch = (() => {
    try {
      return String(readJsonFile<TrainerState>(join(dir, set.trainer)).epoch);
    } catch {
      return 'missing';
    }
  })();
  const e = (f: string) => fileEpoch(join(dir, f)) ?? 'missing';
  return `${set.trainer} epoch ${trainerEpoch}, ${set.model} epoch ${e(set.model)}, ${set.optimizer} epoch ${e(set.optimizer)}`;
}

/**
 * Restores model and optimizer from the newest complete checkpoint set of the run folder (all
 * three files stamped with the same epoch) and returns its trainer state. A set torn by a kill
 * is passed over for the previous epoch's, saying so; with neither, the error names the files.
 */
export async function loadCheckpoint(
  dir: string,
  model: Module,
  optimizer: Optimizer<{ lr: number }>,
  log: (m: string) => void = () => {},
): Promise<TrainerState> {
  let set = newestCompleteSet(dir);
  if (set === null) throw new Error(`${dir}: no complete checkpoint to resume from (${describeSet(dir, currentSet)}); start over with --force`);
  if (set === previousSet) {
    log(
      `!! ${dir}: the newest checkpoint is incomplete (${describeSet(dir, currentSet)}), an interrupted save; resuming from the complete set of epoch ${readSetEpoch(dir, previousSet)} instead`,
    );
    removeSet(dir, currentSet);
    linkSet(dir, previousSet, currentSet);
    set = currentSet;
  }
  const state = readJsonFile<TrainerState>(join(dir, set.trainer));
  await loadModelFile(join(dir, set.model), model);
  const file = openSafetensors(join(dir, set.optimizer));
  const perParam = new Map<number, ParamState>();
  try {
    for (const lazy of file.tensors) {
      const dot = lazy.name.indexOf('.');
      const i = Number(lazy.name.slice(0, dot));
      const s = perParam.get(i) ?? {};
      s[lazy.name.slice(dot + 1)] = await loadToDevice(lazy);
      perParam.set(i, s);
    }
    for (const [i, sc] of Object.entries(state.optimizerScalars)) {
      const s = perParam.get(Number(i)) ?? {};
      Object.assign(s, sc);
      perParam.set(Number(i), s);
    }
    // The optimizer keeps the tensors just read: a copy would allocate the whole state again.
    optimizer.loadStateDict({ state: perParam, paramGroups: state.optimizerGroups }, { take: true });
  } catch (e) {
    // A failure part-way: the tensors read so far are not kept.
    for (const s of perParam.values()) for (const v of Object.values(s)) if (v instanceof T.Tensor) v.dispose();
    throw e;
  } finally {
    file.close();
  }
  return state;
}

/**
 * Loads a model file (strict: every key and shape must match). Only a key/shape mismatch gets
 * the CLI hint (another --arch or --head); anything else (a forbidden pickle global, a truncated
 * file, NaN weights) keeps its own message, with the original error as `cause`.
 */
export async function loadModelFile(path: string, model: Module): Promise<void> {
  try {
    await loadWeights(model, path);
  } catch (e) {
    if (!(e instanceof WeightMismatchError)) throw e;
    const detail = e.message
      .split('\n')
      .slice(1)
      .map((l) => l.trim())
      .join('; ');
    throw new Error(`${path} does not fit this model (check --arch and --head): ${detail}`, { cause: e });
  }
}
