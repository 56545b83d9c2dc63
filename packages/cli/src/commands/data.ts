// `cxr data …`: dataset utilities.
import { Command } from 'commander';
import { synthesizeDataset } from '@cxr/data';
import { helpExamples } from './helpExamples.ts';
import { intOption } from './intOption.ts';

export function dataCommand(): Command {
  const data = new Command('data').description('datasets: the built-in synthetic set')
    .addHelpText('after', helpExamples(['cxr data synth --out data/synthetic', 'cxr data synth --out data/big --per-class 1000 --size 512']));
  data.command('synth').description('write the built-in synthetic chest-X-ray-like dataset (train/val/test × infected/normal)')
    .requiredOption('--out <dir>', 'folder to write').option('--per-class <n>', 'images per class (all splits)', intOption, 120)
    .option('--size <px>', 'image size', intOption, 256).option('--seed <n>', 'seed', intOption, 0)
    .addHelpText('after', helpExamples(['cxr data synth --out data/synthetic', 'cxr data synth --out /tmp/tiny --per-class 10 --size 48 --seed 1']))
    .action(async (o) => {
      await synthesizeDataset({ out: o.out, perClass: o.perClass, size: o.size, seed: o.seed });
      console.log(`wrote ${o.out}`);
    });
  return data;
}
