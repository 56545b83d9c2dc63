/**
 * --freeze: a named preset or parameter globs, resolved per architecture to globs over
 * torchvision parameter names. Presets exist for the study's settings so the experiment grid reads
 * like the paper ('features', 'vgg-convs:0,2,5,10,24,28', 'resnet-upto:layer2').
 *
 *   none                   train everything
 *   backbone               everything but the classifier head (Task 1)
 *   head                   only the classifier head (fc / classifier)
 *   features               VGG: all convolutions (`features.**`)
 *   vgg-convs:I,J,...      VGG: the convolutions at those `features` indices
 *   resnet-upto:STAGE      ResNet: stem (conv1, bn1) and layers up to STAGE (conv1|layer1..layer4)
 *   GLOB[,GLOB...]         e.g. 'layer1.**,fc.weight'
 *
 * The head globs assume the head module is named like torchvision's (`fc` for ResNet,
 * `classifier` for VGG), also when --head replaces it with an MLP.
 */
import { architectures } from './architectures.ts';

export const freezePresetNames = ['none', 'backbone', 'head', 'features', 'vgg-convs:I,J,...', 'resnet-upto:STAGE'] as const;

const resnetStages = ['conv1', 'layer1', 'layer2', 'layer3', 'layer4'] as const;
const headGlobs = { vgg: ['classifier.**'], resnet: ['fc.**'] };
const backboneGlobs = { vgg: ['features.**'], resnet: ['conv1.**', 'bn1.**', 'layer1.**', 'layer2.**', 'layer3.**', 'layer4.**'] };

function familyOf(arch: string) {
  const info = architectures[arch];
  if (!info) throw new Error(`unknown --arch '${arch}'`);
  return info;
}

/** Resolves a --freeze value to parameter globs for `arch`; [] means nothing frozen. */
export function resolveFreeze(spec: string, arch: string): string[] {
  const info = familyOf(arch);
  const value = spec.trim();
  if (value === '' || value === 'none') return [];
  if (value === 'backbone') return [...backboneGlobs[info.family]];
  if (value === 'head') return [...headGlobs[info.family]];

  if (value === 'features') {
    if (info.family !== 'vgg') throw new Error(`--freeze features is for VGG; for ${arch} use backbone or resnet-upto:STAGE`);
    return ['features.**'];
  }

  if (value.startsWith('vgg-convs:')) {
    if (info.family !== 'vgg') throw new Error(`--freeze vgg-convs:… is for VGG; for ${arch} use resnet-upto:STAGE or globs`);
    const list = value.slice('vgg-convs:'.length);
    const valid = info.convIndices!;
    const indices = list.split(',').map((s) => s.trim());
    for (const s of indices) {
      if (!/^\d+$/.test(s) || !valid.includes(Number(s))) {
        throw new Error(`--freeze vgg-convs: '${s}' is not a conv index of ${arch}; use some of ${valid.join(',')}`);
      }
    }
    return [...new Set(indices.map(Number))].sort((a, b) => a - b).map((i) => `features.${i}.**`);
  }

  if (value.startsWith('resnet-upto:')) {
    if (info.family !== 'resnet') throw new Error(`--freeze resnet-upto:… is for ResNet; for ${arch} use features or vgg-convs:…`);
    const stage = value.slice('resnet-upto:'.length);
    const last = resnetStages.indexOf(stage as (typeof resnetStages)[number]);
    if (last < 0) throw new Error(`--freeze resnet-upto: unknown stage '${stage}'; use one of ${resnetStages.join(', ')}`);
    return ['conv1.**', 'bn1.**', ...resnetStages.slice(1, last + 1).map((s) => `${s}.**`)];
  }

  const globs = value
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '');
  for (const g of globs) {
    // A bare word is far more likely a mistyped preset than a parameter name.
    if (!/[.*?]/.test(g) || !/^[A-Za-z0-9_.*?-]+$/.test(g)) {
      throw new Error(`--freeze '${g}' is neither a preset nor a parameter glob; use ${freezePresetNames.join(', ')} or globs like 'layer1.**'`);
    }
  }
  return globs;
}
