import { existsSync, readFileSync } from 'node:fs';
import * as T from '@cxr/tensor';
import { applyTransforms, decodeImage, evalTransforms, mulberry32, toCHW } from '@cxr/data';
import { applyHead, createModel } from '@cxr/models';
import { noGrad } from '@cxr/nn';
import { applyDecisionRule, readDecisionRule } from '../run/decisionRule.ts';
import { readJsonFile } from '../run/runFolder.ts';
import { loadModelFile } from '../train/checkpoint.ts';
import { modelSettings } from './evaluate.ts';
import { Command } from 'commander';
import { intOption } from './intOption.ts';

export interface PredictOptions { arch?: string; weights?: string; head?: string; imageSize?: number; run?: string; json?: boolean; classes?: string }

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
 * Torchvision's evaluation preset: RGB, shorter side to round(N·256/224) bilinear antialiased,
 * centre crop N, ImageNet normalisation. With --run, the run's own evaluation preprocessing
 * instead (bicubic, as the study and `cxr train` use), so predict agrees with `cxr eval`.
 */
export async function predictCommand(files: string[], o: PredictOptions): Promise<Prediction[]> {
  if (files.length === 0) throw new Error('predict: give one or more image files');
  const s = modelSettings(o);
  const classes = o.classes ? o.classes.split(',') : o.run ? readClasses(o.run) : ['infected', 'normal'];
  for (const f of files) if (!existsSync(f)) throw new Error(`predict: ${f}: no such file`);
  await T.getDevice();
  const rule = readDecisionRule(s.weights);
  const model = createModel(s.arch);
  applyHead(model, s.head, classes.length);
  loadModelFile(s.weights, model);
  model.eval();
  const n = s.imageSize;
  const transforms = evalTransforms({ size: n, filter: o.run ? 'bicubic' : 'bilinear' });
  const out: Prediction[] = [];
  for (const file of files) {
    const img = applyTransforms(decodeImage(new Uint8Array(readFileSync(file)), file), transforms, mulberry32(0));
    const x = T.tensor(toCHW(img), [1, 3, n, n]);
    const [logits, probs] = noGrad(() => T.scope(() => { const l = model.forward(x); return [l, T.softmax(l, 1)]; }));
    const [hl, hp] = await Promise.all([logits.toArray(), probs.toArray()]);
    for (const t of [x, logits, probs]) t.dispose();
    const decided = applyDecisionRule([hp], classes, rule);
    const best = decided.predicted[0];
    out.push({ file, logits: Array.from(hl), probs: Array.from(decided.probs[0]), label: classes[best] ?? String(best), threshold: rule?.threshold ?? null });
  }
  model.dispose();
  if (o.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  else {
    const w = Math.max(4, ...files.map((f) => f.length));
    if (rule?.threshold != null) console.log(`decision: p(${rule.positiveClass}) >= ${rule.threshold.toFixed(4)} (${rule.thresholdSpec}, chosen on validation)${rule.temperature !== 1 ? `, temperature ${rule.temperature.toFixed(3)}` : ''}`);
    console.log(`${'file'.padEnd(w)}  ${'label'.padEnd(10)}  ${classes.map((c) => `p(${c})`.padStart(12)).join('')}`);
    for (const p of out) console.log(`${p.file.padEnd(w)}  ${p.label.padEnd(10)}  ${p.probs.map((v) => v.toFixed(4).padStart(12)).join('')}`);
  }
  return out;
}

/** Class names of a finished run, from its metrics.json. */
export function readClasses(run: string): string[] {
  const c = readJsonFile<{ splits: Record<string, { classNames: string[] }> }>(`${run}/metrics.json`);
  const any = Object.values(c.splits)[0];
  if (!any) throw new Error(`${run}/metrics.json lists no classes`);
  return any.classNames;
}

export function predictCliCommand(): Command {
  return new Command('predict').description('class probabilities for images').argument('<images...>')
    .option('--run <dir>').option('--arch <name>').option('--weights <file>').option('--head <spec>')
    .option('--image-size <n>', 'input size', intOption).option('--classes <list>', 'class names in index order (default infected,normal)')
    .option('--json', 'JSON on stdout')
    .action(async (files: string[], o) => { await predictCommand(files, o); });
}
