/**
 * Where `predict` and `eval` get a model from: `--model FILE` (a model.safetensors that carries
 * its own metadata, see ModelInfo), `--run DIR` (its model.safetensors, with the run's data and
 * loss), or `--weights FILE --arch NAME --head SPEC --classes …` for files without metadata.
 * Nothing is assumed silently: a file without metadata, given as --model, is refused with the
 * flags that would describe it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readModelInfo, type ModelInfo } from '@cxr/models';
import { readJsonFile, runFiles } from '../run/runFolder.ts';
import { ConfigError } from './configError.ts';
import type { TrainConfig } from './trainConfig.ts';

export interface ModelSourceOptions {
  model?: string;
  run?: string;
  weights?: string;
  arch?: string;
  head?: string;
  imageSize?: number;
  /** Class names in output order, comma-separated (with --weights). */
  classes?: string;
  data?: string;
}

export interface ModelSource {
  weights: string;
  arch: string;
  head: string;
  /** Output order; null when only --weights was given without --classes (eval takes the data's classes). */
  classes: string[] | null;
  positiveClass: string | null;
  imageSize: number;
  resizeSize: number;
  filter: ModelInfo['resizeFilter'];
  mean: readonly number[];
  std: readonly number[];
  /** The run's data folder (with --run), else --data. */
  data?: string;
  loss: TrainConfig['loss'];
}

function fromInfo(weights: string, info: ModelInfo, o: ModelSourceOptions, loss: TrainConfig['loss'], data?: string): ModelSource {
  return {
    weights, arch: info.arch, head: info.head, classes: info.classes, positiveClass: info.positiveClass,
    imageSize: info.inputSize, resizeSize: info.resizeSize, filter: info.resizeFilter, mean: info.mean, std: info.std,
    data: o.data ?? data, loss,
  };
}

export function resolveModelSource(o: ModelSourceOptions): ModelSource {
  const given = ['model', 'run', 'weights'].filter((k) => o[k as keyof ModelSourceOptions] !== undefined);
  if (given.length > 1) throw new ConfigError(`give one of --model FILE, --run DIR or --weights FILE, not ${given.map((g) => `--${g}`).join(' and ')}`);
  if (o.model !== undefined) {
    const extra = (['arch', 'head', 'imageSize', 'classes'] as const).filter((k) => o[k] !== undefined);
    if (extra.length) throw new ConfigError(`--model ${o.model} carries its own ${extra.map((k) => (k === 'imageSize' ? 'image size' : k)).join(', ')}; drop ${extra.map((k) => `--${k === 'imageSize' ? 'image-size' : k}`).join(', ')} (or use --weights FILE to describe a file yourself)`);
    if (!existsSync(o.model)) throw new Error(`--model ${o.model}: no such file`);
    const info = readModelInfo(o.model);
    if (!info) {
      throw new Error(`--model ${o.model}: the file has no CXR metadata (architecture, head, classes, input size); describe it with --weights ${o.model} --arch NAME --head SPEC --classes A,B [--image-size N]`);
    }
    return fromInfo(o.model, info, o, 'ce');
  }
  if (o.run !== undefined) {
    const weights = join(o.run, runFiles.model);
    if (!existsSync(weights)) throw new Error(`${o.run} has no ${runFiles.model}: the run has not finished (resume it with cxr train --out ${o.run} --resume)`);
    const cfg = readJsonFile<TrainConfig>(join(o.run, runFiles.config));
    const info = readModelInfo(weights);
    if (info) return fromInfo(weights, info, o, cfg.loss, cfg.data);
    // Run folders from before model files carried metadata: the run's config and metrics say it.
    const size = o.imageSize ?? cfg.imageSize;
    const metrics = readJsonFile<{ splits: Record<string, { classNames: string[]; positiveClass?: string }> }>(join(o.run, runFiles.metrics));
    const any = Object.values(metrics.splits)[0];
    return {
      weights, arch: o.arch ?? cfg.arch, head: o.head ?? cfg.head, classes: any?.classNames ?? null, positiveClass: any?.positiveClass ?? null,
      imageSize: size, resizeSize: Math.round((size * 256) / 224), filter: 'bicubic', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
      data: o.data ?? cfg.data, loss: cfg.loss,
    };
  }
  if (o.weights === undefined || o.arch === undefined) throw new ConfigError('give --model FILE (a model.safetensors written by cxr train), --run DIR, or --weights FILE with --arch (and --head, --classes as trained)');
  if (!existsSync(o.weights)) throw new Error(`--weights ${o.weights}: no such file`);
  const size = o.imageSize ?? 224;
  const classes = o.classes ? o.classes.split(',').map((c) => c.trim()).filter(Boolean) : null;
  if (classes && classes.length < 2) throw new ConfigError(`--classes ${o.classes}: give the class names in output order, at least 2 (e.g. --classes infected,normal)`);
  return {
    // A bare weights file is treated as torchvision's own evaluation preset (bilinear resize).
    weights: o.weights, arch: o.arch, head: o.head ?? 'replace', classes, positiveClass: null,
    imageSize: size, resizeSize: Math.round((size * 256) / 224), filter: 'bilinear', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
    data: o.data, loss: 'ce',
  };
}
