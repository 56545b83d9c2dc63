/**
 * The `train` command's flags (commander 14) and how they combine with a config file and the
 * embedded defaults: defaults < --config FILE < flags. Flags are declared without commander
 * defaults so an omitted flag cannot override a value from the file; all values then go through
 * validateTrainConfig, the single place that checks them.
 */
import { Command, CommanderError, Option } from 'commander';
import { knownArchs } from './architectures.ts';
import { loadConfigFile } from './configFile.ts';
import { ConfigError } from './configError.ts';
import { freezePresetNames } from './freezeSpec.ts';
import {
  augmentPresets,
  defaultDataDir,
  defaultTrainConfig,
  losses,
  optimizers,
  precisions,
  selectionMetrics,
  studyDataDefaults,
  trainConfigKeys,
  type TrainConfig,
  type TrainConfigKey,
} from './trainConfig.ts';
import { validateTrainConfig, type ValidateOptions } from './validateTrainConfig.ts';
import { helpExamples } from '../commands/helpExamples.ts';

export type ValueSource = 'default' | 'file' | 'cli';

export interface ResolvedTrainConfig {
  config: TrainConfig;
  /** Where each value came from; e.g. the default run synthesises its dataset only when `data` is a default. */
  sources: Record<TrainConfigKey, ValueSource>;
  /** The --config file, if one was given. */
  configFile?: string;
}

export interface TrainCommandOptions extends ValidateOptions {
  /** Replaces parts of defaultTrainConfig (e.g. an experiment profile). */
  defaults?: Partial<TrainConfig>;
}

/** defaults < file < cli, then validation. */
export function mergeTrainOptions(
  cliValues: Partial<Record<TrainConfigKey, unknown>>,
  fileValues: Partial<Record<TrainConfigKey, unknown>>,
  options: TrainCommandOptions = {},
): Omit<ResolvedTrainConfig, 'configFile'> {
  // Your own data (not the built-in synthetic set) switches the defaults to the study's settings.
  const embedded = { ...defaultTrainConfig, ...options.defaults };
  const data = cliValues.data ?? fileValues.data ?? embedded.data;
  const defaults = data !== defaultDataDir ? { ...defaultTrainConfig, ...studyDataDefaults, ...options.defaults } : embedded;
  const raw: Record<string, unknown> = {};
  const sources = {} as Record<TrainConfigKey, ValueSource>;
  for (const key of trainConfigKeys) {
    if (cliValues[key] !== undefined) {
      raw[key] = cliValues[key];
      sources[key] = 'cli';
    } else if (fileValues[key] !== undefined) {
      raw[key] = fileValues[key];
      sources[key] = 'file';
    } else {
      raw[key] = defaults[key];
      sources[key] = 'default';
    }
  }
  return { config: validateTrainConfig(raw, options), sources };
}

function defaultNote(key: TrainConfigKey, defaults: TrainConfig): string {
  const study = (studyDataDefaults as Partial<TrainConfig>)[key];
  return study === undefined || study === defaults[key]
    ? ` (default ${String(defaults[key])})`
    : ` (default ${String(defaults[key])}; with your own --data ${String(study)})`;
}

/** Declares the flags on a fresh `train` command. */
function declareTrainOptions(cmd: Command, defaults: TrainConfig): Command {
  const d = (key: TrainConfigKey) => defaultNote(key, defaults);
  return cmd
    .option(
      '--data <dir>',
      `dataset root: <split>/<class>/…, <class>/… or <class>/images/…; split folders train|training, val|valid|validation|dev, test|testing in any case${d('data')}`,
    )
    .option('--manifest <file.csv>', 'CSV with columns path,label[,split][,group] (group = patient id: no patient in two splits); paths relative to the CSV')
    .option('--classes <list>', 'keep/rename/merge classes: COVID=infected,Normal=normal or covid-19,normal,pneumonia (default: all found)')
    .option('--val-fraction <f>', `share of train used as validation when the data has train and test only${d('valFraction')}`)
    .option('--positive <class>', 'positive class of the binary metrics (default: the one of two not named normal/negative/healthy/no_findings)')
    .option('--select-by <metric>', `epoch kept as model.safetensors: ${selectionMetrics.join('|')}${d('selectBy')}`)
    .option('--patience <n>', `stop when --select-by has not improved for N epochs, 0 = never${d('patience')}`)
    .option('--balanced', 'class-balanced sampling of the training set')
    .option('--class-weights <w>', `cross-entropy class weights: auto (inverse frequency)|none|w1,w2,…${d('classWeights')}`)
    .option('--keep-checkpoints', 'keep last-epoch and optimizer checkpoints after a successful run (they are deleted otherwise)')
    .option('--cache-max-gb <n>', `cap of the decoded-image cache in $CXR_CACHE/images, 0 = no cache${d('cacheMaxGb')}`)
    .option('--workers <n>', `image-decoding threads: auto (1 on a CPU adapter, else the cores but one) or a count, 0 = main thread${d('workers')}`)
    .option('--arch <name>', `architecture: ${knownArchs.join('|')}${d('arch')}`)
    .option('--weights <src>', `initial weights: imagenet|none|FILE${d('weights')}`)
    .option('--head <spec>', `classifier head: mlp:N (e.g. mlp:530)|replace|extend${d('head')}`)
    .option('--freeze <spec>', `frozen parameters: ${freezePresetNames.join('|')}|GLOBS${d('freeze')}`)
    .option('--optimizer <name>', `${optimizers.join('|')}${d('optimizer')}`)
    .option('--lr <number>', `learning rate${d('lr')}`)
    .option('--momentum <number>', `SGD momentum${d('momentum')}`)
    .option('--weight-decay <number>', `weight decay${d('weightDecay')}`)
    .option('--schedule <spec>', `LR schedule: constant|cosine|step:EPOCHS[:GAMMA]${d('schedule')}`)
    .option('--epochs <n>', `epochs${d('epochs')}`)
    .option('--batch-size <n>', `batch size${d('batchSize')}`)
    .option('--image-size <px>', `input size (shorter side resized to size*256/224, then centre crop)${d('imageSize')}`)
    .option('--loss <name>', `${losses.join('|')}${d('loss')}`)
    .option('--augment [preset]', `augmentation: ${augmentPresets.join('|')}; bare flag = standard${d('augment')}`)
    .option('--no-augment', 'no augmentation')
    .option('--seed <n>', `random seed${d('seed')}`)
    .option('--out <dir>', `run folder${d('out')}`)
    .option('--limit-per-class <n>', `use at most N images per class and split, 0 = all${d('limitPerClass')}`)
    .option('--skip-bad-images', 'train and evaluate without images that cannot be decoded (listed in metrics.json and report.md) instead of stopping')
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--force', 'overwrite an existing run in --out')
    .option('--threshold <spec>', `decision threshold on p(positive), chosen on validation: youden|PROBABILITY|sens:TARGET${d('threshold')}`)
    .option('--calibrate <how>', `calibration fitted on validation and stored with the model: none|temperature${d('calibrate')}`)
    .option('--dedupe', 'drop duplicates that span two splits (found by the data audit) from the smaller split')
    .option(
      '--precision <p>',
      `${precisions.join('|')}: f16 trains with float16 activations, float32 master weights and loss scaling (needs an adapter with shader-f16); evaluation stays float32${d('precision')}`,
    )
    .addOption(new Option('--config <file>', 'JSON or YAML file with the same keys; flags override it'));
}

/** Values the user actually typed, by TrainConfig key. */
function cliValuesOf(cmd: Command): Partial<Record<TrainConfigKey, unknown>> {
  const opts = cmd.opts();
  const values: Partial<Record<TrainConfigKey, unknown>> = {};
  for (const key of trainConfigKeys) {
    if (opts[key] !== undefined && cmd.getOptionValueSource(key) === 'cli') values[key] = opts[key];
  }
  return values;
}

/** Flags + optional config file of a parsed command -> validated config. */
export function resolveTrainCommand(cmd: Command, options: TrainCommandOptions = {}): ResolvedTrainConfig {
  const configFile = cmd.opts().config as string | undefined;
  const fileValues = configFile ? loadConfigFile(configFile) : {};
  return { ...mergeTrainOptions(cliValuesOf(cmd), fileValues, options), ...(configFile ? { configFile } : {}) };
}

/**
 * Builds the `train` command. Its action validates the options and calls `action` with the result;
 * invalid options reject parseAsync with a ConfigError.
 */
export function buildTrainCommand(action?: (resolved: ResolvedTrainConfig) => void | Promise<void>, options: TrainCommandOptions = {}): Command {
  const defaults = { ...defaultTrainConfig, ...options.defaults };
  const cmd = new Command('train')
    .description(
      `fine-tune a model on an image-folder dataset; with no flags, runs the built-in default (${defaultTrainConfig.imageSize} px, ${defaultTrainConfig.epochs} epochs, synthetic data)`,
    )
    .allowExcessArguments(false);
  declareTrainOptions(cmd, defaults);
  cmd.addHelpText(
    'after',
    helpExamples([
      'cxr train                                   # the built-in default run (small and fast)',
      'cxr train --data data/covid --arch vgg16 --head mlp:530 --freeze backbone --out runs/vgg',
      'cxr train --data COVID-19_Radiography_Dataset --classes COVID=infected,Normal=normal --select-by val-auc --patience 3',
      'cxr train --data data/cxr --manifest patients.csv --positive covid --class-weights auto',
    ]),
  );
  cmd.action(async (_opts, command: Command) => {
    const resolved = resolveTrainCommand(command, options);
    if (action) await action(resolved);
  });
  return cmd;
}

export interface ParseTrainArgsOptions extends TrainCommandOptions {
  /** Where help text goes (default stdout). */
  writeOut?: (text: string) => void;
}

/**
 * Parses `train` arguments (without the command name) into a validated config, turning
 * commander's usage errors into one-line ConfigErrors. Returns null when --help was shown.
 */
export async function resolveTrainArgs(argv: readonly string[], options: ParseTrainArgsOptions = {}): Promise<ResolvedTrainConfig | null> {
  let resolved: ResolvedTrainConfig | null = null;
  const cmd = buildTrainCommand((r) => {
    resolved = r;
  }, options);
  cmd.exitOverride();
  cmd.configureOutput({
    writeOut: options.writeOut ?? ((t) => process.stdout.write(t)),
    writeErr: () => {}, // the error is rethrown as ConfigError, printed once by the caller
  });
  try {
    await cmd.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.help') return null;
      // Commander puts its "(Did you mean --lr?)" on a second line; keep everything on one.
      const message = error.message
        .replace(/^error:\s*/, '')
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .join(' ')
        .replace(/\.$/, '');
      throw new ConfigError(`${message}; see cxr train --help`);
    }
    throw error;
  }
  return resolved;
}

export async function parseTrainArgs(argv: readonly string[], options: ParseTrainArgsOptions = {}): Promise<TrainConfig | null> {
  return (await resolveTrainArgs(argv, options))?.config ?? null;
}
