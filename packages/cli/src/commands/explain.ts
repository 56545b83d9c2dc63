// `cxr explain`: Grad-CAM overlays (one PNG per image) or, with --json, the maps as numbers.
import { existsSync, mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { Command } from 'commander';
import * as T from '@cxr/tensor';
import { applyDecisionRule, applyHead, createModel, defaultCamLayer } from '@cxr/models';
import { explainImages } from '../explain/explainImages.ts';
import { massOutsideLung } from '../metrics/lungMass.ts';
import { overlayHeatmap } from '../report/heatmapOverlay.ts';
import { renderExplainPng } from '../report/explainPicture.ts';
import { writeFileAtomic } from '../run/atomicWrite.ts';
import { readDecisionRule } from '../run/decisionRule.ts';
import { loadModelFile } from '../train/checkpoint.ts';
import { modelSettings } from './evaluate.ts';
import { helpExamples } from './helpExamples.ts';
import { withModelOptions } from './modelOptions.ts';

export interface ExplainOptions {
  model?: string;
  run?: string;
  arch?: string;
  weights?: string;
  head?: string;
  imageSize?: number;
  classes?: string;
  class?: string;
  layer?: string;
  out?: string;
  json?: boolean;
}

export interface Explanation {
  file: string;
  layer: string;
  /** The class the map explains. */
  class: string;
  /** Its probability (after the model's stored temperature). */
  probability: number;
  /** The model's decision (stored threshold, else argmax). */
  predicted: string;
  massOutsideLung: number;
  width: number;
  height: number;
  /** Row-major [height * width] in [0, 1] (--json only). */
  map?: number[];
  /** The overlay written (not with --json). */
  png?: string;
}

export async function explainCommand(files: string[], o: ExplainOptions): Promise<Explanation[]> {
  if (files.length === 0) throw new Error('explain: give one or more image files');
  for (const f of files) if (!existsSync(f)) throw new Error(`explain: ${f}: no such file`);
  const s = modelSettings(o);
  const classes = o.classes?.split(',').map((c) => c.trim()) ?? s.classes;
  if (!classes)
    throw new Error(`${s.weights} does not record its class names; pass --classes NAME,NAME in the order the model was trained (sorted folder names)`);
  let classIndex: number | undefined;
  if (o.class !== undefined) {
    classIndex = classes.findIndex((c) => c.toLowerCase() === o.class!.toLowerCase());
    if (classIndex < 0) throw new Error(`explain: --class ${o.class} is not one of ${classes.join(', ')}`);
  }
  await T.getDevice();
  const model = createModel(s.arch, { initialize: false }); // every tensor is loaded below
  applyHead(model, s.head, classes.length);
  await loadModelFile(s.weights, model);
  model.eval();
  const layer = o.layer ?? defaultCamLayer(model);
  const rule = readDecisionRule(s.weights);
  // The model's own preprocessing, exactly as `predict` and the viewer apply it.
  const preprocess = { resizeSize: s.resizeSize, filter: s.filter, mean: s.mean, std: s.std };
  const explained = await explainImages(model, files, { layer, imageSize: s.imageSize, classIndex, batchSize: 4, preprocess });
  model.dispose();
  const out: Explanation[] = [];
  if (!o.json) mkdirSync(o.out ?? '.', { recursive: true });
  for (const e of explained) {
    const decided = applyDecisionRule([e.probs], classes, rule);
    const probability = decided.probs[0][e.classIndex];
    const predicted = classes[decided.predicted[0]];
    const x: Explanation = {
      file: e.file,
      layer,
      class: classes[e.classIndex],
      probability,
      predicted,
      massOutsideLung: massOutsideLung(e.map, e.image.width, e.image.height),
      width: e.image.width,
      height: e.image.height,
    };
    if (o.json) x.map = Array.from(e.map, (v) => Math.round(v * 1e4) / 1e4);
    else {
      x.png = join(o.out ?? '.', `${basename(e.file, extname(e.file))}.gradcam.png`);
      writeFileAtomic(
        x.png,
        renderExplainPng(
          overlayHeatmap(e.image, e.map),
          `${x.class}: p = ${probability.toFixed(3)}${predicted !== x.class ? ` (predicted ${predicted})` : ''}`,
          `Grad-CAM ${layer} (${e.featureShape.join('x')}), ${(x.massOutsideLung * 100).toFixed(0)}% of mass outside the central lungs`,
        ),
      );
    }
    out.push(x);
  }
  if (o.json) process.stdout.write(JSON.stringify(out) + '\n');
  else
    for (const x of out) console.log(`${x.file}: ${x.class} p=${x.probability.toFixed(3)}, ${(x.massOutsideLung * 100).toFixed(0)}% outside lungs -> ${x.png}`);
  return out;
}

export function explainCliCommand(): Command {
  const command = new Command('explain').description('Grad-CAM: where the model looked, as an overlay PNG per image (or --json numbers)');
  return withModelOptions(command.argument('<images...>', 'PNG or JPEG files'))
    .option('--class <name>', 'class to explain (default: the most probable)')
    .option('--layer <name>', 'layer to explain (default: ResNet layer4, VGG the last features ReLU)')
    .option('--out <dir>', 'where the overlay PNGs go (default .)')
    .option('--json', 'print the maps as numbers instead of writing PNGs')
    .addHelpText(
      'after',
      helpExamples([
        'cxr explain --model runs/vgg/model.safetensors xray.png --out cams',
        'cxr explain --run runs/vgg --class infected --json xray.png > cam.json',
      ]),
    )
    .action(async (files: string[], o: ExplainOptions) => {
      await explainCommand(files, o);
    });
}
