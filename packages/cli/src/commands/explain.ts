// `cxr explain`: Grad-CAM overlays (one PNG per image) or, with --json, the maps as numbers.
import { existsSync, mkdirSync, statSync } from 'node:fs';
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
import { imageFileProblem } from './imageFiles.ts';
import { modelClasses } from './modelClasses.ts';
import { overlayPaths, refuseExistingOverlays } from './overlayNames.ts';

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
  /** Replace overlay files that already exist in --out. */
  force?: boolean;
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
  // A folder or FIFO among the images is named here, before the model loads (not "EISDIR").
  for (const f of files) {
    const problem = imageFileProblem(f);
    if (problem) throw new Error(`explain: ${problem}`);
  }
  const s = modelSettings(o);
  const classes = modelClasses(o.classes, s, o.run ?? s.weights);
  const outDir = o.out ?? '.';
  const pngs = o.json ? [] : overlayPaths(files, outDir);
  refuseExistingOverlays(pngs, outDir, o.force);
  // Made before the model runs, so that an --out that is a file fails now, naming the flag, not
  // with "EEXIST: …, mkdir" after every image has been explained.
  if (!o.json) {
    if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new Error(`explain: --out ${outDir} is a file; give a folder for the overlay PNGs`);
    mkdirSync(outDir, { recursive: true });
  }
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
  // By default the map explains the decision predict reports (the stored threshold may overrule
  // the most probable class), as samples.png and the viewer do.
  const decide = (p: Float32Array) => applyDecisionRule([p], classes, rule).predicted[0];
  const explained = await explainImages(model, files, { layer, imageSize: s.imageSize, classIndex, batchSize: 4, preprocess, decide });
  model.dispose();
  const out: Explanation[] = [];
  for (const [k, e] of explained.entries()) {
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
      x.png = pngs[k];
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
  // The decision is named when the explained class is not it (as the PNG's caption does): with a
  // stored threshold, "normal p=0.523" alone reads as the prediction when predict says infected.
  else
    for (const x of out)
      console.log(
        `${x.file}: ${x.class} p=${x.probability.toFixed(3)}${x.predicted !== x.class ? ` (predicted ${x.predicted})` : ''}, ${(x.massOutsideLung * 100).toFixed(0)}% outside lungs -> ${x.png}`,
      );
  return out;
}

export function explainCliCommand(): Command {
  const command = new Command('explain').description('Grad-CAM: where the model looked, as an overlay PNG per image (or --json numbers)');
  return withModelOptions(command.argument('<images...>', 'PNG or JPEG files'))
    .option('--class <name>', 'class to explain (default: the predicted class, by the decision rule the model file stores)')
    .option('--layer <name>', 'layer to explain (default: ResNet layer4, VGG the last features ReLU)')
    .option('--out <dir>', 'where the overlay PNGs go (default .)')
    .option('--json', 'print the maps as numbers instead of writing PNGs')
    .option('--force', 'replace overlay PNGs that already exist in --out')
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
