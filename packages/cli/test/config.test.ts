import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/configError.ts';
import { parseConfigText, toCamelKey } from '../src/config/configFile.ts';
import { resolveFreeze } from '../src/config/freezeSpec.ts';
import { parseHead, parseSchedule, parseWeights } from '../src/config/optionValues.ts';
import { nameMatcher } from '@cxr/nn';
import { architectures } from '../src/config/architectures.ts';
import { defaultTrainConfig } from '../src/config/trainConfig.ts';
import { buildTrainCommand, parseTrainArgs, resolveTrainArgs } from '../src/config/trainCommand.ts';
import { loaderWorkers } from '../src/train/loaderWorkers.ts';

async function errorOf(argv: string[]): Promise<string> {
  try {
    await parseTrainArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n'); // one line
    return message;
  }
  throw new Error(`expected ${argv.join(' ')} to fail`);
}

describe('train options', () => {
  it('no arguments gives the embedded default run', async () => {
    const resolved = await resolveTrainArgs([]);
    expect(resolved!.config).toEqual(defaultTrainConfig);
    expect(resolved!.config).toMatchObject({ arch: 'resnet18', imageSize: 64, epochs: 5 });
    expect(Object.values(resolved!.sources).every((s) => s === 'default')).toBe(true);
  });

  it('parses every flag', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cxr-cfg-'));
    const weights = join(dir, 'w.safetensors');
    writeFileSync(weights, '');
    const config = await parseTrainArgs([
      '--data',
      'd',
      '--arch',
      'VGG16',
      '--weights',
      weights,
      '--head',
      'mlp:2000',
      '--freeze',
      'vgg-convs:0,2,5',
      '--optimizer',
      'sgd',
      '--lr',
      '1e-5',
      '--momentum',
      '0.8',
      '--weight-decay',
      '5e-4',
      '--schedule',
      'step:7:0.5',
      '--epochs',
      '12',
      '--batch-size',
      '8',
      '--image-size',
      '224',
      '--loss',
      'focal',
      '--augment',
      'standard',
      '--seed',
      '42',
      '--out',
      'runs/x',
      '--limit-per-class',
      '10',
      '--force',
      '--threshold',
      'sens:0.95',
      '--calibrate',
      'temperature',
      '--dedupe',
      '--manifest',
      'm.csv',
      '--classes',
      'COVID=infected,Normal=normal',
      '--val-fraction',
      '0.2',
      '--positive',
      'infected',
      '--select-by',
      'val-auc',
      '--patience',
      '3',
      '--balanced',
      '--class-weights',
      'auto',
      '--keep-checkpoints',
      '--cache-max-gb',
      '2.5',
      '--workers',
      '6',
      '--precision',
      'f16',
    ]);
    expect(config).toEqual({
      data: 'd',
      arch: 'vgg16',
      weights,
      head: 'mlp:2000',
      freeze: 'vgg-convs:0,2,5',
      optimizer: 'sgd',
      lr: 1e-5,
      momentum: 0.8,
      weightDecay: 5e-4,
      schedule: 'step:7:0.5',
      epochs: 12,
      batchSize: 8,
      imageSize: 224,
      loss: 'focal',
      augment: 'standard',
      seed: 42,
      out: 'runs/x',
      limitPerClass: 10,
      skipBadImages: false,
      resume: false,
      force: true,
      threshold: 'sens:0.95',
      calibrate: 'temperature',
      dedupe: true,
      manifest: 'm.csv',
      classes: 'COVID=infected,Normal=normal',
      valFraction: 0.2,
      positive: 'infected',
      selectBy: 'val-auc',
      patience: 3,
      balanced: true,
      classWeights: 'auto',
      keepCheckpoints: true,
      cacheMaxGb: 2.5,
      workers: '6',
      precision: 'f16',
    });
  });

  it('--precision: f32 (default, and for runs from before the flag) or f16; anything else is named', async () => {
    expect((await parseTrainArgs([]))!.precision).toBe('f32');
    expect(await errorOf(['--precision', 'bf16'])).toBe("unknown --precision 'bf16' (did you mean f16?); choose one of f32, f16");
  });

  it('--workers: auto or a count; auto is one thread on a CPU adapter, the cores but one on a GPU', async () => {
    expect((await parseTrainArgs([]))!.workers).toBe('auto');
    expect((await parseTrainArgs(['--workers', '0']))!.workers).toBe('0');
    expect(await errorOf(['--workers', 'many'])).toMatch(/^--workers must be a number/);
    expect(await errorOf(['--workers', '2.5'])).toMatch(/^--workers must be a whole number from 0 to 256/);
    expect(loaderWorkers('auto', true, 16)).toBe(1);
    expect(loaderWorkers('auto', false, 16)).toBe(15);
    expect(loaderWorkers('auto', false, 1)).toBe(1);
    expect(loaderWorkers('3', true, 16)).toBe(3);
  });

  it('your own --data switches the defaults to the study (224 px, 10 epochs, ImageNet); the default run stays small', async () => {
    const own = await resolveTrainArgs(['--data', 'data/covid']);
    expect(own!.config).toMatchObject({ imageSize: 224, epochs: 10, weights: 'imagenet', selectBy: 'val-loss' });
    expect(await parseTrainArgs(['--data', 'data/covid', '--epochs', '2', '--image-size', '64'])).toMatchObject({ imageSize: 64, epochs: 2 });
    expect(await parseTrainArgs([])).toMatchObject({ imageSize: 64, epochs: 5 });
    let help = '';
    await resolveTrainArgs(['--help'], {
      writeOut: (t) => {
        help += t;
      },
    });
    expect(help).toMatch(/--epochs <n>\s+epochs \(default 5; with your own --data 10\)/);
    expect(help).toMatch(/Examples:\n {2}\$ cxr train/);
  });

  it('bare --augment is the standard preset, --no-augment none', async () => {
    expect((await parseTrainArgs(['--augment']))!.augment).toBe('standard');
    expect((await parseTrainArgs(['--no-augment']))!.augment).toBe('none');
  });

  it('config file values sit between defaults and flags', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cxr-cfg-'));
    const yamlPath = join(dir, 'c.yaml');
    writeFileSync(yamlPath, 'arch: vgg16\nlr: 1e-5\nbatch-size: 4\nweightDecay: 0.01\n');
    const resolved = await resolveTrainArgs(['--config', yamlPath, '--lr', '0.01']);
    expect(resolved!.config).toMatchObject({ arch: 'vgg16', lr: 0.01, batchSize: 4, weightDecay: 0.01, epochs: 5 });
    expect(resolved!.sources).toMatchObject({ arch: 'file', lr: 'cli', batchSize: 'file', epochs: 'default' });
    expect(resolved!.configFile).toBe(yamlPath);

    // A config.json written from a TrainConfig reads back to the same config.
    const jsonPath = join(dir, 'config.json');
    writeFileSync(jsonPath, JSON.stringify(resolved!.config));
    expect(await parseTrainArgs(['--config', jsonPath])).toEqual(resolved!.config);
  });

  it.each([
    [['--arch', 'resnt18'], /unknown --arch 'resnt18' \(did you mean resnet18\?\); choose one of/],
    [['--head', 'mlp'], /bad --head 'mlp'; use mlp:N/],
    [['--head', 'mlp:0'], /bad --head/],
    [['--lr', 'abc'], /--lr must be a number such as 1e-3/],
    [['--lr', '0'], /--lr must be a positive number/],
    [['--lr', '-1e-3'], /--lr must be a positive number/],
    [['--lr', '1e-3x'], /--lr must be a number/],
    [['--epochs', '1.5'], /--epochs must be a whole number/],
    [['--batch-size', '0'], /--batch-size must be a whole number from 1/],
    [['--momentum', '1'], /--momentum must be below 1/],
    [['--optimizer', 'adma'], /unknown --optimizer 'adma' \(did you mean adam\?\)/],
    [['--loss', 'mse'], /unknown --loss 'mse'; choose one of ce, focal, bce/],
    [['--augment', 'heavy'], /unknown --augment 'heavy'; choose one of none, standard/],
    [['--schedule', 'linear'], /bad --schedule 'linear'/],
    [['--image-size', '16'], /--image-size 16 is too small for resnet18; use at least 32/],
    [['--weights', 'nope.safetensors'], /--weights file 'nope.safetensors' not found/],
    [['--freeze', 'features'], /--freeze features is for VGG/],
    [['--arch', 'vgg16', '--freeze', 'vgg-convs:1,2'], /'1' is not a conv index of vgg16; use some of 0,2,5,7,10,12,14,17,19,21,24,26,28/],
    [['--freeze', 'backbon'], /did you mean backbone/],
    [['--resume', '--force'], /--resume and --force contradict/],
    [['--select-by', 'val-acc'], /unknown --select-by 'val-acc' \(did you mean val-auc\?\); choose one of val-loss, val-accuracy, val-f1, val-auc/],
    [['--class-weights', '1,x'], /bad --class-weights '1,x'; use auto/],
    [['--val-fraction', '1'], /--val-fraction must be below 1/],
    [['--patience', '-1'], /--patience must be a whole number from 0/],
    [['--bogus'], /unknown option '--bogus'; see cxr train --help/],
    [['--epochs'], /argument missing/],
    [['--config', '/nonexistent/c.yaml'], /config file \/nonexistent\/c.yaml not found/],
  ])('%j fails with a one-line error', async (argv, pattern) => {
    expect(await errorOf(argv as string[])).toMatch(pattern);
  });

  it('config files reject unknown keys and bad syntax', () => {
    expect(() => parseConfigText('epoch: 1', 'c.yaml')).toThrow(
      /unknown key 'epoch' in config file c.yaml \(did you mean epochs\?\); known keys: data, manifest, classes/,
    );
    expect(() => parseConfigText('{"arch": ', 'c.json')).toThrow(/cannot parse config file c.json/);
    expect(() => parseConfigText('- a\n- b\n', 'c.yaml')).toThrow(/must hold a mapping/);
    expect(parseConfigText('', 'c.yaml')).toEqual({});
    expect(toCamelKey('--weight-decay')).toBe('weightDecay');
    expect(toCamelKey('batch_size')).toBe('batchSize');
  });

  it('buildTrainCommand hands the validated config to its action', async () => {
    let seen: unknown;
    const cmd = buildTrainCommand((r) => {
      seen = r.config;
    });
    await cmd.parseAsync(['--epochs', '7'], { from: 'user' });
    expect(seen).toMatchObject({ epochs: 7, arch: 'resnet18' });
  });

  it('--help returns null and prints the flags', async () => {
    let text = '';
    expect(await parseTrainArgs(['--help'], { writeOut: (t) => (text += t) })).toBeNull();
    expect(text).toContain('--weight-decay');
    expect(text).toContain('(default resnet18)');
  });
});

describe('option values', () => {
  it('head, schedule, weights', () => {
    expect(parseHead('mlp:530')).toEqual({ kind: 'mlp', hidden: [530] });
    expect(parseHead('mlp:512,128')).toEqual({ kind: 'mlp', hidden: [512, 128] });
    expect(parseHead('replace')).toEqual({ kind: 'replace' });
    expect(parseSchedule('step:5')).toEqual({ kind: 'step', every: 5, gamma: 0.1 });
    expect(parseSchedule('cosine')).toEqual({ kind: 'cosine' });
    expect(parseWeights('imagenet')).toEqual({ kind: 'imagenet' });
    expect(parseWeights('a.safetensors', () => true)).toEqual({ kind: 'file', path: 'a.safetensors' });
  });
});

describe('freeze presets', () => {
  it('VGG16 conv indices follow torchvision', () => {
    expect(architectures.vgg16.convIndices).toEqual([0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]);
    expect(architectures.vgg11.convIndices).toEqual([0, 3, 6, 8, 11, 13, 16, 18]);
  });
  it('resolve to parameter globs', () => {
    expect(resolveFreeze('none', 'vgg16')).toEqual([]);
    expect(resolveFreeze('features', 'vgg16')).toEqual(['features.**']);
    expect(resolveFreeze('vgg-convs:28,0,2', 'vgg16')).toEqual(['features.0.**', 'features.2.**', 'features.28.**']);
    expect(resolveFreeze('head', 'resnet18')).toEqual(['fc.**']);
    expect(resolveFreeze('resnet-upto:layer2', 'resnet18')).toEqual(['conv1.**', 'bn1.**', 'layer1.**', 'layer2.**']);
    expect(resolveFreeze('layer4.*.conv?.weight,fc.bias', 'resnet18')).toEqual(['layer4.*.conv?.weight', 'fc.bias']);
  });
  it('glob matching is segment-aware', () => {
    const backbone = resolveFreeze('backbone', 'resnet18');
    expect(nameMatcher(backbone)('layer3.1.bn2.running_mean')).toBe(true);
    expect(nameMatcher(backbone)('fc.weight')).toBe(false);
    expect(nameMatcher(resolveFreeze('vgg-convs:2', 'vgg16'))('features.2.weight')).toBe(true);
    expect(nameMatcher(resolveFreeze('vgg-convs:2', 'vgg16'))('features.28.weight')).toBe(false);
    expect(nameMatcher('layer1.*.weight')('layer1.0.conv1.weight')).toBe(false);
    expect(nameMatcher('layer1.*.weight')('layer1.0.weight')).toBe(true);
  });
});
