/**
 * `train --out R --resume`: the run's own config.json is the configuration. Omitted flags take the
 * stored values (not the defaults, which would continue a 32 px run on other data at 64 px), a
 * flag that contradicts the stored run is refused with the difference named, and --epochs may
 * extend the run (applied, and recorded when config.json is rewritten).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runFiles, readJsonFile, RunFolderError } from '../run/runFolder.ts';
import { ConfigError } from './configError.ts';
import type { ValueSource } from './trainCommand.ts';
import { trainConfigKeys, type TrainConfig, type TrainConfigKey } from './trainConfig.ts';
import { validateTrainConfig } from './validateTrainConfig.ts';

/** Settings that may change on resume without making the run something else. */
const extendable: readonly TrainConfigKey[] = ['epochs', 'patience'];
/** How to run, not what is trained. */
const notSettings: readonly TrainConfigKey[] = ['out', 'resume', 'force'];
/** How this invocation runs (disk use), not what is trained: taken from the flags when given. */
const howToRun: readonly TrainConfigKey[] = ['keepCheckpoints', 'cacheMaxGb', 'workers'];

const flagOf = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function resumeConfig(requested: TrainConfig, sources: Record<TrainConfigKey, ValueSource>, log: (m: string) => void = () => {}): TrainConfig {
  const path = join(requested.out, runFiles.config);
  if (!existsSync(path))
    throw new RunFolderError(
      `cannot resume ${requested.out}: it has no ${runFiles.config} (not a run folder, or one killed before it started); start it without --resume`,
    );
  const raw = readJsonFile<Record<string, unknown>>(path);
  let stored: TrainConfig;
  try {
    // The initial weights file may have moved since: resume overwrites every tensor from the checkpoint.
    stored = validateTrainConfig({ ...raw, resume: false, force: false }, { fileExists: () => true });
  } catch (e) {
    throw new RunFolderError(`${path} is not a valid run configuration (${(e as Error).message}); start over with --force`);
  }
  const conflicts: string[] = [];
  const result: TrainConfig = { ...stored, out: requested.out, resume: true, force: false };
  for (const key of trainConfigKeys) {
    if (notSettings.includes(key) || sources[key] === 'default') continue;
    if (howToRun.includes(key)) {
      (result as unknown as Record<string, unknown>)[key] = requested[key];
      continue;
    }
    if (String(requested[key]) === String(stored[key])) continue;
    if (extendable.includes(key)) {
      log(`resume: ${flagOf(key)} ${String(stored[key])} -> ${String(requested[key])} (recorded in ${runFiles.config})`);
      (result as unknown as Record<string, unknown>)[key] = requested[key];
    } else {
      conflicts.push(`${flagOf(key)} ${String(requested[key])} (the run has ${String(stored[key])})`);
    }
  }
  if (conflicts.length) {
    throw new ConfigError(
      `--resume continues ${requested.out} with its own ${runFiles.config}, but ${conflicts.join(', ')}; drop ${conflicts.length === 1 ? 'that flag' : 'those flags'} to resume, or start a new run elsewhere`,
    );
  }
  return result;
}
