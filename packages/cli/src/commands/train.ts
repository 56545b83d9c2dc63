// `cxr train` (also bare `cxr`): the command object comes from config/trainCommand.ts, which owns the flags.
import { existsSync, readdirSync } from 'node:fs';
import type { Command } from 'commander';
import { buildTrainCommand } from '../config/trainCommand.ts';
import { train } from '../train/train.ts';
import { resumeConfig } from '../config/resumeConfig.ts';
import { defaultTrainConfig } from '../config/trainConfig.ts';

/** Without --out, a rerun of the default job goes to the next free runs/default-N rather than refusing or overwriting. */
export function nextFreeFolder(base: string): string {
  const taken = (d: string) => existsSync(d) && readdirSync(d).length > 0;
  if (!taken(base)) return base;
  for (let i = 2; ; i++) if (!taken(`${base}-${i}`)) return `${base}-${i}`;
}

export function trainCommand(): Command {
  return buildTrainCommand(async ({ config, sources }) => {
    // With no --data the built-in synthetic set is made on first use, and a missing ImageNet file
    // (offline) falls back to random init with a warning instead of failing.
    if (config.resume) {
      // The run's config.json decides what is trained; see resumeConfig for what flags may change.
      const stored = resumeConfig(config, sources, (m) => console.log(m));
      await train(stored, { isDefaultRun: stored.data === defaultTrainConfig.data && stored.weights === defaultTrainConfig.weights });
      return;
    }
    const isDefaultRun = sources.data === 'default' && sources.weights === 'default';
    const out = sources.out === 'default' && !config.force ? nextFreeFolder(config.out) : config.out;
    await train({ ...config, out }, { isDefaultRun });
  });
}
