import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '@cxr/tensor';
import type { Module, Optimizer, OptimizerStateDict, ParamState } from '@cxr/nn';
import { loadWeights, openSafetensors, toDevice, writeSafetensorsFile, type HostTensor } from '@cxr/models';
import { readJsonFile } from '../run/runFolder.ts';
import { writeJsonAtomic } from '../run/atomicWrite.ts';

/** Everything besides tensors that a resumed run needs to continue exactly. */
export interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  bestValAccuracy: number;
  bestEpoch: number;
  /** Dropout/initialisation generator state. */
  generator: { seed: number; calls: number };
  scheduler: { lastEpoch: number } | null;
  optimizerGroups: OptimizerStateDict['paramGroups'];
  /** Scalar per-parameter optimizer state (e.g. Adam's step), by parameter index. */
  optimizerScalars: Record<string, Record<string, number>>;
}

export const checkpointFiles = {
  /** Weights after the last completed epoch (resume starts from here). */
  last: 'last.safetensors',
  /** Weights of the best epoch by validation accuracy (copied to model.safetensors at the end). */
  best: 'best.safetensors',
  optimizer: 'optimizer.safetensors',
  trainer: 'trainer.json',
};

async function toHost(t: T.Tensor): Promise<HostTensor> {
  if (t.dtype === 'int32') return { dtype: 'int32', shape: [...t.shape], data: await t.toInt32Array() };
  return { dtype: 'float32', shape: [...t.shape], data: await t.toArray() };
}

/**
 * Writes tensors one at a time (VGG16's 411 MB layer is read back and written before the next
 * is touched), to a temporary file renamed into place, so a crash never leaves a torn file.
 */
export async function saveTensors(path: string, tensors: Map<string, T.Tensor>, metadata?: Record<string, string>): Promise<void> {
  const host = new Map<string, HostTensor>();
  for (const [k, t] of tensors) host.set(k, await toHost(t));
  writeSafetensorsFile(path, host, metadata);
}

export async function saveModel(path: string, model: Module, metadata?: Record<string, string>): Promise<void> {
  await saveTensors(path, model.stateDict(), metadata);
}

export async function saveCheckpoint(dir: string, model: Module, optimizer: Optimizer<{ lr: number }>, state: Omit<TrainerState, 'optimizerGroups' | 'optimizerScalars'>): Promise<void> {
  await saveModel(join(dir, checkpointFiles.last), model, { format: 'cxr', epoch: String(state.epoch) });
  const sd = optimizer.stateDict();
  const tensors = new Map<string, T.Tensor>();
  const scalars: Record<string, Record<string, number>> = {};
  for (const [i, s] of sd.state) {
    for (const [k, v] of Object.entries(s)) {
      if (v instanceof T.Tensor) tensors.set(`${i}.${k}`, v);
      else (scalars[i] ??= {})[k] = v as number;
    }
  }
  await saveTensors(join(dir, checkpointFiles.optimizer), tensors);
  // The trainer state goes last: its epoch says which checkpoint files are complete.
  writeJsonAtomic(join(dir, checkpointFiles.trainer), { ...state, optimizerGroups: sd.paramGroups, optimizerScalars: scalars } satisfies TrainerState);
}

export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, checkpointFiles.trainer)) && existsSync(join(dir, checkpointFiles.last));
}

/** Restores model and optimizer from the run folder; returns the trainer state. */
export function loadCheckpoint(dir: string, model: Module, optimizer: Optimizer<{ lr: number }>): TrainerState {
  const state = readJsonFile<TrainerState>(join(dir, checkpointFiles.trainer));
  loadModelFile(join(dir, checkpointFiles.last), model);
  const file = openSafetensors(join(dir, checkpointFiles.optimizer));
  try {
    const perParam = new Map<number, ParamState>();
    for (const lazy of file.tensors) {
      const dot = lazy.name.indexOf('.');
      const i = Number(lazy.name.slice(0, dot));
      const s = perParam.get(i) ?? {};
      s[lazy.name.slice(dot + 1)] = toDevice(lazy.name, lazy.load());
      perParam.set(i, s);
    }
    for (const [i, sc] of Object.entries(state.optimizerScalars)) {
      const s = perParam.get(Number(i)) ?? {};
      Object.assign(s, sc);
      perParam.set(Number(i), s);
    }
    optimizer.loadStateDict({ state: perParam, paramGroups: state.optimizerGroups });
    for (const s of perParam.values()) for (const v of Object.values(s)) if (v instanceof T.Tensor) v.dispose();
  } finally {
    file.close();
  }
  return state;
}

/**
 * Loads a model file (strict: every key and shape must match), with the hint a CLI user needs
 * when it does not: the file was trained with another --arch or --head.
 */
export function loadModelFile(path: string, model: Module): void {
  try {
    loadWeights(model, path);
  } catch (e) {
    const detail = (e as Error).message.split('\n').slice(1).map((l) => l.trim()).join('; ');
    throw new Error(`${path} does not fit this model (check --arch and --head): ${detail}`);
  }
}
