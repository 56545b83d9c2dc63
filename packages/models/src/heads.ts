import type { Generator } from '@cxr/tensor';
import { Dropout, Linear, type Module, ReLU, Sequential } from '@cxr/nn';
import type { ResNet } from './arch/resnet.ts';
import { VGG } from './arch/vgg.ts';

/**
 * The study's classifier heads:
 * - `mlp:H` replaces the whole classifier by Linear(in→H)–ReLU–Dropout–Linear(H→classes) (Task 1);
 * - `replace` keeps the pretrained classifier and swaps its last Linear for one with `classes`
 *   outputs (Task 2);
 * - `extend` keeps the 1000-way ImageNet classifier and appends ReLU–Linear(1000→classes).
 * Apply a head after loading ImageNet weights: the new layers get fresh PyTorch-default inits.
 */
export type HeadSpec = { kind: 'mlp'; hidden: number[]; dropout?: number } | { kind: 'replace' } | { kind: 'extend' } | { kind: 'none' };

/** `mlp:530`, `mlp:512,128` (one Linear–ReLU–Dropout per hidden width), `replace`, `extend`, `none`. */
export function parseHeadSpec(spec: string): HeadSpec {
  const s = spec.trim();
  if (s === 'replace' || s === 'extend' || s === 'none') return { kind: s };
  const m = /^mlp:(\d+(?:,\d+)*)$/.exec(s);
  if (m) {
    const hidden = m[1].split(',').map(Number);
    if (hidden.every((h) => h > 0 && h <= 65536)) return { kind: 'mlp', hidden };
  }
  throw new Error(`bad --head '${spec}'; use mlp:N with N hidden units (e.g. mlp:530), replace or extend`);
}

function lastLinear(seq: Sequential): { index: number; layer: Linear } {
  for (let i = seq.length - 1; i >= 0; i--) {
    const l = seq.at(i);
    if (l instanceof Linear) return { index: i, layer: l };
  }
  throw new Error('head: the classifier has no Linear layer');
}

export type Classifier = VGG | ResNet;

/** Where the classifier lives: `classifier` (VGG) or `fc` (ResNet), and its input width. */
export function headName(model: Classifier): 'classifier' | 'fc' {
  return model instanceof VGG ? 'classifier' : 'fc';
}

function headInFeatures(model: Classifier): number {
  if (model instanceof VGG) return 512 * 7 * 7;
  const fc = model.fc;
  if (fc instanceof Linear) return fc.inFeatures;
  if (fc instanceof Sequential && fc.at(0) instanceof Linear) return (fc.at(0) as Linear).inFeatures;
  throw new Error('head: cannot tell the ResNet feature width');
}

function setHead(model: Classifier, head: Module): void {
  const old = model instanceof VGG ? model.classifier : model.fc;
  if (model instanceof VGG) model.classifier = head;
  else model.fc = head;
  // Parameters no longer reachable from the model would otherwise leak GPU memory.
  const kept = new Set(head.parameters());
  for (const p of old.parameters()) if (!kept.has(p)) p.dispose();
}

export function applyHead(model: Classifier, spec: HeadSpec | string, numClasses: number, generator?: Generator): void {
  const h = typeof spec === 'string' ? parseHeadSpec(spec) : spec;
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new Error(`head: need at least 2 classes, got ${numClasses}`);
  const g = { generator };
  switch (h.kind) {
    case 'none':
      return;
    case 'mlp': {
      const layers: Module[] = [];
      let width = headInFeatures(model);
      for (const hidden of h.hidden) {
        layers.push(new Linear(width, hidden, g), new ReLU(), new Dropout(h.dropout ?? 0.5, generator));
        width = hidden;
      }
      setHead(model, new Sequential(...layers, new Linear(width, numClasses, g)));
      return;
    }
    case 'replace': {
      const cur = model instanceof VGG ? model.classifier : model.fc;
      if (cur instanceof Linear) {
        setHead(model, new Linear(cur.inFeatures, numClasses, g));
        return;
      }
      if (!(cur instanceof Sequential)) throw new Error('head replace: unexpected classifier type');
      const { index, layer } = lastLinear(cur);
      cur.set(index, new Linear(layer.inFeatures, numClasses, g));
      layer.weight.dispose();
      layer.bias?.dispose();
      return;
    }
    case 'extend': {
      const cur = model instanceof VGG ? model.classifier : model.fc;
      const outF = cur instanceof Linear ? cur.outFeatures : lastLinear(cur as Sequential).layer.outFeatures;
      if (cur instanceof Sequential) {
        setHead(model, new Sequential(...cur.layers, new ReLU(), new Linear(outF, numClasses, g)));
      } else {
        setHead(model, new Sequential(cur, new ReLU(), new Linear(outF, numClasses, g)));
      }
    }
  }
}
