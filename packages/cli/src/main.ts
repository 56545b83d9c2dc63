#!/usr/bin/env node
// `cxr` / `pnpm cli`: train, evaluate, predict, data, weights and experiment-grid commands.
// Errors are one line on stderr and a non-zero exit; the GPU device is closed so the process exits.
import { Command, CommanderError } from 'commander';
import * as T from '@cxr/tensor';
import { dataCommand } from './commands/data.ts';
import { evalCommand } from './commands/evaluate.ts';
import { experimentsCommand } from './commands/experiments.ts';
import { predictCliCommand } from './commands/predict.ts';
import { explainCliCommand } from './commands/explain.ts';
import { serveCommand } from './commands/serve.ts';
import { trainCommand } from './commands/train.ts';
import { weightsCommand } from './commands/weights.ts';
import { cacheCommand } from './commands/cache.ts';
import { envCommand } from './commands/env.ts';
import { cxrVersion } from './config/version.ts';
import { helpExamples } from './commands/helpExamples.ts';
import { ConfigError } from './config/configError.ts';

export function buildProgram(): Command {
  const program = new Command('cxr')
    .description('CXR: fine-tune ImageNet CNNs on chest X-rays with a WebGPU engine')
    .version(cxrVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .addHelpText(
      'after',
      helpExamples([
        'cxr                      # the built-in default run',
        'cxr train --data data/covid --arch vgg16 --out runs/vgg',
        'cxr predict --model runs/vgg/model.safetensors xray.png',
      ]),
    );
  for (const command of [
    trainCommand(),
    evalCommand(),
    predictCliCommand(),
    explainCliCommand(),
    serveCommand(),
    dataCommand(),
    weightsCommand(),
    experimentsCommand(),
    envCommand(),
    cacheCommand(),
  ]) {
    program.addCommand(command);
  }
  // Errors and --help throw (CommanderError) instead of exiting, in subcommands too, so main() picks the exit code.
  const throwInsteadOfExit = (parent: Command) => {
    for (const sub of parent.commands) {
      sub.exitOverride();
      throwInsteadOfExit(sub);
    }
  };
  throwInsteadOfExit(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  // Bare `cxr` runs the main job: the embedded default training run.
  const args = argv.length === 0 ? ['train'] : argv;
  try {
    await program.parseAsync(args, { from: 'user' });
    return 0;
  } catch (e) {
    // Exit codes: 0 done, 2 usage (bad flags or option values), 1 runtime failure; Ctrl-C in
    // training exits 130 from the train loop's signal handler (with the --resume hint).
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    let msg = (e as Error).message ?? String(e);
    if (/maxBufferSize|out of memory|OutOfMemory/i.test(msg)) msg += ' — out of GPU memory: lower --batch-size or --image-size';
    console.error(`cxr: ${msg.split('\n').length > 8 ? msg.split('\n').slice(0, 8).join('\n') + '\n…' : msg}`);
    if (process.env.CXR_DEBUG) console.error(e);
    return e instanceof ConfigError ? 2 : 1;
  } finally {
    await T.destroyDevice().catch(() => {});
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
