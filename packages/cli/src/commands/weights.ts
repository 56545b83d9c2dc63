// `cxr weights …`: pretrained checkpoints (convert torch files, pull torchvision's ImageNet weights).
import { existsSync, statSync } from 'node:fs';
import { Command } from 'commander';
import { convertCheckpoint, pullWeights, type PretrainedArch } from '@cxr/models';
import { checkOutputFile } from './outputFile.ts';
import { helpExamples } from './helpExamples.ts';

export function weightsCommand(): Command {
  const weights = new Command('weights')
    .description("pretrained weights: pull torchvision's ImageNet files, convert .pth to .safetensors")
    .addHelpText('after', helpExamples(['cxr weights pull resnet18', 'cxr weights convert ~/.cache/cxr/vgg16-397923af.pth vgg16.safetensors']));
  weights
    .command('convert')
    .description('convert a PyTorch checkpoint to .safetensors (no code from the file is run)')
    .argument('<in>', '.pth checkpoint (any torch.save format)')
    .argument('<out>', '.safetensors file')
    .addHelpText(
      'after',
      helpExamples(['cxr weights convert model.pth model.safetensors', 'cxr weights convert ~/.cache/cxr/resnet18-f37072fd.pth resnet18.safetensors']),
    )
    .option('--force', 'replace <out> if it exists')
    .action((i: string, o: string, opts: { force?: boolean }) => {
      // A missing <in> surfaced as a raw "ENOENT: no such file or directory, open …".
      if (!existsSync(i)) throw new Error(`weights convert: ${i}: no such file; give the .pth checkpoint to convert`);
      if (statSync(i).isDirectory()) throw new Error(`weights convert: ${i} is a folder, not a checkpoint file; give the .pth file`);
      checkOutputFile('weights convert', '<out>', o, opts.force, 'model.safetensors');
      const r = convertCheckpoint(i, o);
      console.log(JSON.stringify(r));
    });
  weights
    .command('pull')
    .description("download torchvision's ImageNet weights into the cache ($CXR_CACHE) and check their SHA-256")
    .argument('<arch>', 'vgg16 or resnet18')
    .addHelpText('after', helpExamples(['cxr weights pull resnet18', 'CXR_CACHE=/scratch/cxr cxr weights pull vgg16']))
    .action(async (arch: string) => {
      console.log(await pullWeights(arch as PretrainedArch));
    });
  return weights;
}
