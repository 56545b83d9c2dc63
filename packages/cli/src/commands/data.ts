// `cxr data …`: dataset utilities.
import { Command } from 'commander';
import { synthesizeDataset } from '@cxr/data';
import { intOption } from './intOption.ts';

export function dataCommand(): Command {
  const data = new Command('data').description('datasets');
  data.command('synth').description('write the built-in synthetic chest-X-ray-like dataset')
    .requiredOption('--out <dir>').option('--per-class <n>', 'images per class (all splits)', intOption, 120)
    .option('--size <px>', 'image size', intOption, 256).option('--seed <n>', 'seed', intOption, 0)
    .action(async (o) => {
      await synthesizeDataset({ out: o.out, perClass: o.perClass, size: o.size, seed: o.seed });
      console.log(`wrote ${o.out}`);
    });
  return data;
}
