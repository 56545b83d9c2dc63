import { existsSync, readFileSync } from 'node:fs';
import * as T from '@cxr/tensor';
import { applyTransforms, decodeImage, evalTransforms, mulberry32, toCHW } from '@cxr/data';
import { applyHead, createModel } from '@cxr/models';
import { noGrad } from '@cxr/nn';
import { Command } from 'commander';
import { ConfigError } from '../config/configError.ts';
import { resolveModelSource } from '../config/modelSource.ts';
import { argmax } from '../metrics/classificationMetrics.ts';
import { loadModelFile } from '../train/checkpoint.ts';
import { helpExamples } from './helpExamples.ts';
import { intOption } from './intOption.ts';

export interface PredictOptions { model?: string; arch?: string; weights?: string; head?: string; imageSize?: number; run?: string; json?: boolean; classes?: string }

export interface Prediction { file: string; logits: number[]; probs: number[]; label: string }

/**
 * Class probabilities per image, preprocessed exactly as the model's file (or run) says: shorter
 * side resized (bicubic for CXR-trained models, bilinear for a bare --weights file, as
 * torchvision's preset), centre crop, normalisation, grey replicated to RGB.
 */
export async function predictCommand(files: string[], o: PredictOptions): Promise<Prediction[]> {
  if (files.length === 0) throw new ConfigError('predict: give one or more image files');
  const s = resolveModelSource(o);
  if (!s.classes) throw new ConfigError(`predict: --weights ${s.weights} has no class names; give them in output order with --classes A,B (or use --model with a file written by cxr train)`);
  const classes = s.classes;
  for (const f of files) if (!existsSync(f)) throw new Error(`predict: ${f}: no such file`);
  await T.getDevice();
  const model = createModel(s.arch);
  applyHead(model, s.head, classes.length);
  loadModelFile(s.weights, model);
  model.eval();
  const n = s.imageSize;
  const transforms = evalTransforms({ size: n, resize: s.resizeSize, filter: s.filter });
  const out: Prediction[] = [];
  for (const file of files) {
    const img = applyTransforms(decodeImage(new Uint8Array(readFileSync(file)), file), transforms, mulberry32(0));
    const x = T.tensor(toCHW(img, undefined, 0, s.mean, s.std), [1, 3, n, n]);
    const [logits, probs] = noGrad(() => T.scope(() => { const l = model.forward(x); return [l, T.softmax(l, 1)]; }));
    const [hl, hp] = await Promise.all([logits.toArray(), probs.toArray()]);
    for (const t of [x, logits, probs]) t.dispose();
    const best = argmax(hp);
    out.push({ file, logits: Array.from(hl), probs: Array.from(hp), label: classes[best] ?? String(best) });
  }
  model.dispose();
  if (o.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  else {
    const w = Math.max(4, ...files.map((f) => f.length));
    console.log(`${'file'.padEnd(w)}  ${'label'.padEnd(10)}  ${classes.map((c) => `p(${c})`.padStart(12)).join('')}`);
    for (const p of out) console.log(`${p.file.padEnd(w)}  ${p.label.padEnd(10)}  ${p.probs.map((v) => v.toFixed(4).padStart(12)).join('')}`);
  }
  return out;
}

export function predictCliCommand(): Command {
  return new Command('predict').description('class probabilities for images (nothing leaves the machine)').argument('<images...>', 'PNG or JPEG files')
    .option('--model <file>', 'model.safetensors written by cxr train (carries arch, head, classes, preprocessing)')
    .option('--run <dir>', 'run folder written by cxr train')
    .option('--weights <file>', 'a weights file without CXR metadata (then give --arch, --head, --classes)')
    .option('--arch <name>', 'architecture, with --weights').option('--head <spec>', 'classifier head as trained, with --weights (default replace)')
    .option('--image-size <n>', 'input size, with --weights (default 224)', intOption).option('--classes <list>', 'class names in output order, with --weights (e.g. infected,normal)')
    .option('--json', 'JSON on stdout')
    .addHelpText('after', helpExamples([
      'cxr predict --model runs/vgg/model.safetensors xray1.png xray2.jpg',
      'cxr predict --run runs/vgg --json scans/*.png > predictions.json',
      'cxr predict --weights old.safetensors --arch resnet18 --head replace --classes infected,normal x.png',
    ]))
    .action(async (files: string[], o) => { await predictCommand(files, o); });
}
