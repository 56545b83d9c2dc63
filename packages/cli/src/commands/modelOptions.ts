// The flags that say which trained model a command uses (eval, predict, explain): one definition so
// their meaning and help stay the same in every command.
import type { Command } from 'commander';
import { intOption } from './intOption.ts';

export interface ModelOptionHelp {
  /** What --run brings besides the model (eval also takes the run's data and splits). */
  run?: string;
  /** --classes means "index order of the model's classes" unless a command says otherwise. */
  classes?: string;
}

export function withModelOptions(command: Command, help: ModelOptionHelp = {}): Command {
  return command
    .option('--model <file>', 'model.safetensors written by cxr train: arch, head, classes and preprocessing come from the file')
    .option('--run <dir>', help.run ?? 'run folder written by cxr train')
    .option('--weights <file>', 'model weights (.safetensors); --arch/--head/--classes needed unless the file records them')
    .option('--arch <name>', 'architecture, with --weights')
    .option('--head <spec>', 'classifier head as trained, with --weights (default replace)')
    .option('--image-size <n>', 'input size (default: what the model records, else 224)', intOption)
    .option('--classes <list>', help.classes ?? 'class names in index order, for weights files that do not record them');
}
