/**
 * `experiments run` over a root that already holds grid runs: a run folder is only reused (a
 * finished run skipped, an unfinished one resumed) when its config.json records what the grid
 * asks for now. Otherwise a smoke run would stand in for a `--profile full` one, or epoch 2 of a
 * resumed run would train at another image size than epoch 1 while config.json names an LR never
 * used. The comparison follows `train --resume` (config/resumeConfig.ts): how a run is executed
 * never counts, and an unfinished run may grow its epochs/patience.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { trainConfigKeys, type TrainConfig, type TrainConfigKey } from '../config/trainConfig.ts';
import { readJsonFile, runFiles } from '../run/runFolder.ts';

/** How an invocation runs (folder, disk use, threads), not what is trained; as in resumeConfig. */
const howToRun: readonly TrainConfigKey[] = ['out', 'resume', 'force', 'keepCheckpoints', 'cacheMaxGb', 'workers'];
/** May change when an unfinished run is resumed, as `train --resume --epochs N` allows. */
const extendable: readonly TrainConfigKey[] = ['epochs', 'patience'];
/** Paths: `data/x` and `./data/x` are the same data. */
const paths: readonly TrainConfigKey[] = ['data'];

const flagOf = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * The settings in which the run folder's config.json differs from `wanted`, each as
 * "--lr 0.001 (the grid now asks for 0.01)"; null when the folder has no config.json to compare.
 * `resuming`: the run is unfinished and would continue, so --epochs/--patience may differ.
 */
export function runSettingDifferences(dir: string, wanted: TrainConfig, resuming: boolean): string[] | null {
  const path = join(dir, runFiles.config);
  if (!existsSync(path)) return null;
  const stored = readJsonFile<Record<string, unknown>>(path);
  const differences: string[] = [];
  for (const key of trainConfigKeys) {
    if (howToRun.includes(key) || (resuming && extendable.includes(key))) continue;
    // A key the run's CXR version did not write: nothing recorded to contradict.
    if (!(key in stored)) continue;
    const [had, now] = paths.includes(key) ? [resolve(String(stored[key])), resolve(String(wanted[key]))] : [String(stored[key]), String(wanted[key])];
    if (had !== now) differences.push(`${flagOf(key)} ${String(stored[key])} (the grid now asks for ${String(wanted[key])})`);
  }
  return differences;
}
