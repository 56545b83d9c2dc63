// `cxr weights …`: pretrained checkpoints (convert torch files, pull torchvision's ImageNet weights).
import { Command } from 'commander';
import { convertCheckpoint, pullWeights, type PretrainedArch } from '@cxr/models';

export function weightsCommand(): Command {
  const weights = new Command('weights').description('pretrained weights');
  weights.command('convert').argument('<in>', '.pth checkpoint (any torch.save format)').argument('<out>', '.safetensors file')
    .action((i: string, o: string) => { const r = convertCheckpoint(i, o); console.log(JSON.stringify(r)); });
  weights.command('pull').argument('<arch>', 'vgg16 or resnet18')
    .action(async (arch: string) => { console.log(await pullWeights(arch as PretrainedArch)); });
  return weights;
}
