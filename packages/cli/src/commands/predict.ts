import * as T from '@cxr/tensor';
import { applyTransforms, decodeImage, evalTransforms, mulberry32, toPlanes } from '@cxr/data';
import { applyDecisionRule, applyHead, createModel } from '@cxr/models';
import { noGrad } from '@cxr/nn';
import { readDecisionRule } from '../run/decisionRule.ts';
import { loadModelFile } from '../train/checkpoint.ts';
import { modelSettings } from './evaluate.ts';
import { Command } from 'commander';
import { ConfigError } from '../config/configError.ts';
import { helpExamples } from './helpExamples.ts';
import { withModelOptions } from './modelOptions.ts';
import { readImageFile } from './imageFiles.ts';
import { modelClasses } from './modelClasses.ts';
import { formatPredictionTable } from './predictionTable.ts';
import { createCountProgress } from '../progress/countProgress.ts';

export interface PredictOptions {
  model?: string;
  arch?: string;
  weights?: string;
  head?: string;
  imageSize?: number;
  run?: string;
  json?: boolean;
  classes?: string;
}

export interface Prediction {
  file: string;
  logits: number[];
  /** Probabilities after the model's stored temperature (if any). */
  probs: number[];
  /** The decision: p(positive) >= the model's stored threshold, else the most probable class. */
  label: string;
  threshold: number | null;
}

/**
 * The model's own evaluation preprocessing, as its file (or run) records it: shorter side resized
 * (bicubic for CXR-trained models), centre crop, normalisation, grey replicated to RGB, so
 * predict agrees with `cxr eval`. A bare weights file gets torchvision's evaluation preset
 * (bilinear, round(N·256/224), ImageNet normalisation).
 * Class names and input size come from the run or the weights file; a file that records none
 * needs --classes. A file that cannot be read or decoded is reported and the others predicted;
 * the command then fails (non-zero exit) after printing them.
 */
export async function predictCommand(files: string[], o: PredictOptions): Promise<Prediction[]> {
  if (files.length === 0) throw new ConfigError('predict: give one or more image files');
  const s = modelSettings(o);
  const classes = modelClasses(o.classes, s, o.run ?? s.weights);
  if (s.imageSizeSource === 'default')
    console.warn(`!! ${s.weights} does not record its input size: using 224 px; pass --image-size if it was trained at another`);
  await T.getDevice();
  const rule = readDecisionRule(s.weights);
  const model = createModel(s.arch, { initialize: false }); // every tensor is loaded below
  const out: Prediction[] = [];
  const failed: { file: string; reason: string }[] = [];
  try {
    applyHead(model, s.head, classes.length);
    await loadModelFile(s.weights, model);
    model.eval();
    const n = s.imageSize;
    const transforms = evalTransforms({ size: n, resize: s.resizeSize, filter: s.filter });
    const progress = createCountProgress('predict', files.length);
    for (const [k, file] of files.entries()) {
      progress.update(k);
      let x: T.Tensor;
      try {
        const img = applyTransforms(decodeImage(readImageFile(file), file), transforms, mulberry32(0));
        // normalised on the device, as `cxr eval` and training's evaluation do (batchTensors): the
        // model gets the same input values for an image in every command
        const raw = T.tensor(toPlanes(img), [1, img.channels, n, n]);
        x = T.normalizeChannels(raw, s.mean, s.std);
        raw.dispose();
      } catch (e) {
        failed.push({ file, reason: (e as Error).message });
        console.error(`cxr: predict: ${(e as Error).message}`);
        continue;
      }
      const [logits, probs] = noGrad(() =>
        T.scope(() => {
          const l = model.forward(x);
          return [l, T.softmax(l, 1)];
        }),
      );
      const [hl, hp] = await Promise.all([logits.toArray(), probs.toArray()]);
      for (const t of [x, logits, probs]) t.dispose();
      const decided = applyDecisionRule([hp], classes, rule);
      const best = decided.predicted[0];
      out.push({ file, logits: Array.from(hl), probs: Array.from(decided.probs[0]), label: classes[best] ?? String(best), threshold: rule?.threshold ?? null });
    }
    progress.update(files.length);
    progress.stop();
  } finally {
    model.dispose();
  }
  if (o.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  else if (out.length) {
    if (rule?.threshold != null)
      console.log(
        `decision: p(${rule.positiveClass}) >= ${rule.threshold.toFixed(4)} (${rule.thresholdSpec}, chosen on validation)${rule.temperature !== 1 ? `, temperature ${rule.temperature.toFixed(3)}` : ''}`,
      );
    console.log(formatPredictionTable(out, classes));
  }
  if (failed.length)
    throw new Error(
      `predict: ${failed.length} of ${files.length} file(s) could not be read or decoded (${failed
        .map((f) => f.file)
        .slice(0, 5)
        .join(', ')}${failed.length > 5 ? ' …' : ''}); the other ${out.length} were predicted`,
    );
  return out;
}

export function predictCliCommand(): Command {
  return withModelOptions(
    new Command('predict').description('class probabilities for images (nothing leaves the machine)').argument('<images...>', 'PNG or JPEG files'),
  )
    .option('--json', 'JSON on stdout')
    .addHelpText(
      'after',
      helpExamples([
        'cxr predict --model runs/vgg/model.safetensors xray1.png xray2.jpg',
        'cxr predict --run runs/vgg --json scans/*.png > predictions.json',
        'cxr predict --weights old.safetensors --arch resnet18 --head replace --classes infected,normal x.png',
      ]),
    )
    .action(async (files: string[], o) => {
      await predictCommand(files, o);
    });
}
