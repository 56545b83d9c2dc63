#!/usr/bin/env node
// `cxr` / `pnpm cli`: train, evaluate, predict, data, weights and experiment-grid commands.
// Errors are one line on stderr and a non-zero exit; the GPU device is closed so the process exits.
import { existsSync, readdirSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import * as T from '@cxr/tensor';
import { synthesizeDataset } from '@cxr/data';
import { convertCheckpoint, pullWeights, type PretrainedArch } from '@cxr/models';
import { buildTrainCommand } from './config/trainCommand.ts';
import { train } from './train/train.ts';
import { evaluateCommand } from './commands/evaluate.ts';
import { predictCommand } from './commands/predict.ts';
import { experimentsReport, experimentsRun } from './commands/experiments.ts';

function nextFreeFolder(base: string): string {
  const taken = (d: string) => existsSync(d) && readdirSync(d).length > 0;
  if (!taken(base)) return base;
  for (let i = 2; ; i++) if (!taken(`${base}-${i}`)) return `${base}-${i}`;
}

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`expected an integer, got '${v}'`);
  return n;
};

export function buildProgram(): Command {
  const program = new Command('cxr').description('CXR: fine-tune ImageNet CNNs on chest X-rays with a WebGPU engine').exitOverride();

  program.addCommand(buildTrainCommand(async ({ config, sources }) => {
    // With no --data the built-in synthetic set is made on first use, and a missing ImageNet file
    // (offline) falls back to random init with a warning instead of failing.
    const isDefaultRun = sources.data === 'default' && sources.weights === 'default';
    // Without --out, a rerun goes to the next free runs/default-N rather than refusing or
    // overwriting the last one.
    const out = sources.out === 'default' && !config.resume && !config.force ? nextFreeFolder(config.out) : config.out;
    await train({ ...config, out }, { isDefaultRun });
  }));

  program.command('eval').description('metrics of a finished run or a weights file on a split')
    .option('--run <dir>', 'run folder written by cxr train')
    .option('--weights <file>', 'model weights (.safetensors)').option('--arch <name>').option('--head <spec>')
    .option('--data <dir>').option('--split <name>', 'train, val or test', 'test').option('--image-size <n>', 'input size', int)
    .action(async (o) => { await evaluateCommand(o); });

  program.command('predict').description('class probabilities for images').argument('<images...>')
    .option('--run <dir>').option('--arch <name>').option('--weights <file>').option('--head <spec>')
    .option('--image-size <n>', 'input size', int).option('--classes <list>', 'class names in index order (default infected,normal)')
    .option('--json', 'JSON on stdout')
    .action(async (files: string[], o) => { await predictCommand(files, o); });

  const data = program.command('data').description('datasets');
  data.command('synth').description('write the built-in synthetic chest-X-ray-like dataset')
    .requiredOption('--out <dir>').option('--per-class <n>', 'images per class (all splits)', int, 120)
    .option('--size <px>', 'image size', int, 256).option('--seed <n>', 'seed', int, 0)
    .action(async (o) => {
      await synthesizeDataset({ out: o.out, perClass: o.perClass, size: o.size, seed: o.seed });
      console.log(`wrote ${o.out}`);
    });

  const weights = program.command('weights').description('pretrained weights');
  weights.command('convert').argument('<in>', '.pth checkpoint (any torch.save format)').argument('<out>', '.safetensors file')
    .action((i: string, o: string) => { const r = convertCheckpoint(i, o); console.log(JSON.stringify(r)); });
  weights.command('pull').argument('<arch>', 'vgg16 or resnet18')
    .action(async (arch: string) => { console.log(await pullWeights(arch as PretrainedArch)); });

  const exp = program.command('experiments').description('the study\'s experiment grid');
  exp.command('run').argument('<grid>', 'seed-study')
    .option('--only <names>', 'comma-separated run names or globs').option('--shard <i/n>', 'this machine\'s share of the grid')
    .option('--epochs <n>', 'override every run\'s epochs', int).option('--profile <name>', 'smoke or full', 'smoke')
    .option('--data <dir>', 'image folders (default: the built-in synthetic set)').option('--out <dir>', 'root of the run folders', 'runs/seed-study')
    .action(async (grid: string, o) => { await experimentsRun(grid, o); });
  exp.command('report').argument('<grid>', 'seed-study').option('--runs <dirs...>', 'run roots to merge', ['runs/seed-study'])
    .option('--out <dir>', 'where report.md goes', 'runs/seed-study')
    .action(async (grid: string, o) => { await experimentsReport(grid, o.runs, o.out); });
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
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    let msg = (e as Error).message ?? String(e);
    if (/maxBufferSize|out of memory|OutOfMemory/i.test(msg)) msg += ' — out of GPU memory: lower --batch-size or --image-size';
    console.error(`cxr: ${msg.split('\n').length > 8 ? msg.split('\n').slice(0, 8).join('\n') + '\n…' : msg}`);
    if (process.env.CXR_DEBUG) console.error(e);
    return 1;
  } finally {
    await T.destroyDevice().catch(() => {});
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
