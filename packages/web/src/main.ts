// The CXR viewer: a model file and X-rays in, class and probabilities out, all on this machine's
// GPU through @cxr/tensor. Files are read with the File API; nothing is sent anywhere.
import * as T from '@cxr/tensor';
import { decodeDecisionRule, knownArchs, positiveIndex, type DecisionRule } from '@cxr/models';
import type { Filter } from '@cxr/data';
import { Classifier, type Classification } from './classifier.ts';
import { settingsFromMetadata, userSettings, type ModelSettings } from './modelSettings.ts';
import { drawHeatMap, drawImage } from './draw.ts';

const $ = <E extends HTMLElement>(id: string) => document.getElementById(id) as E;
const status = $<HTMLParagraphElement>('status');
const modelInput = $<HTMLInputElement>('model-input');
const imageInput = $<HTMLInputElement>('image-input');
const imageDrop = $<HTMLLabelElement>('image-drop');
const settingsForm = $<HTMLFormElement>('model-settings');
const modelInfo = $<HTMLDListElement>('model-info');
const results = $<HTMLOListElement>('results');

let classifier: Classifier | null = null;
let pendingModel: { bytes: Uint8Array; name: string; rule: DecisionRule | null } | null = null;
/** Images are classified one at a time, in the order given. */
let queue: Promise<void> = Promise.resolve();

// For developers: the engine itself, from the console (`await cxr.tensor.getDevice()`, …).
(globalThis as { cxr?: unknown }).cxr = { tensor: T };

function say(text: string, problem = false): void {
  status.textContent = text;
  status.classList.toggle('problem', problem);
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function start(): Promise<void> {
  for (const a of knownArchs) {
    const o = document.createElement('option');
    o.value = o.textContent = a;
    if (a === 'resnet18') o.selected = true;
    $<HTMLSelectElement>('arch-input').append(o);
  }
  try {
    const gpu = await T.getDevice();
    const kind = gpu.isCpuAdapter ? ' — a software adapter (no GPU in use): it works, slowly' : '';
    say(`WebGPU adapter: ${gpu.adapterName}${kind}.`);
    document.body.dataset.adapter = gpu.adapterName;
  } catch (e) {
    say(`This browser cannot run the model: ${message(e)}`, true);
    return;
  }
  document.body.dataset.ready = 'true';
  await preload();
}

/** `cxr serve --run DIR` opens the page with ?model=… (same origin) and the run's settings. */
async function preload(): Promise<void> {
  const q = new URLSearchParams(location.search);
  const url = q.get('model');
  if (!url || new URL(url, location.href).origin !== location.origin) return;
  say('Loading the run’s model…');
  const res = await fetch(url);
  if (!res.ok) return say(`Could not load ${url}: HTTP ${res.status}`, true);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const given =
    q.get('arch') && q.get('classes')
      ? userSettings({
          arch: q.get('arch')!,
          classes: q.get('classes')!.split(','),
          head: q.get('head') ?? undefined,
          inputSize: Number(q.get('size')) || undefined,
          filter: (q.get('filter') as Filter) ?? undefined,
        })
      : undefined;
  await openModel(bytes, url.split('/').pop() ?? 'model.safetensors', given);
}

async function openModel(bytes: Uint8Array, name: string, given?: ModelSettings): Promise<void> {
  const previous = classifier;
  classifier = null; // no new images are taken until the new model is ready
  setImagesEnabled(false);
  await queue; // images already queued finish with the model they were given to
  previous?.dispose();
  modelInfo.hidden = true;
  let settings: ModelSettings | null;
  let rule: DecisionRule | null;
  try {
    const meta = Classifier.metadata(bytes, name);
    settings = settingsFromMetadata(meta, name) ?? given ?? null;
    rule = decodeDecisionRule(meta, name);
  } catch (e) {
    return say(`${name}: ${message(e)}`, true);
  }
  if (!settings) {
    pendingModel = { bytes, name, rule };
    settingsForm.hidden = false;
    say(`${name} has no CXR metadata: give its architecture and classes.`);
    $<HTMLSelectElement>('arch-input').focus();
    return;
  }
  settingsForm.hidden = true;
  await useModel(bytes, name, settings, rule);
}

async function useModel(bytes: Uint8Array, name: string, settings: ModelSettings, rule: DecisionRule | null): Promise<void> {
  say(`Loading ${name} (${settings.arch})…`);
  try {
    classifier = await Classifier.load(bytes, name, settings, rule);
  } catch (e) {
    return say(`${name}: ${message(e)}`, true);
  }
  pendingModel = null;
  showModelInfo(name, settings, rule);
  setImagesEnabled(true);
  say(`${name} loaded. Drop or choose X-rays.`);
  document.body.dataset.model = name;
}

function showModelInfo(name: string, s: ModelSettings, rule: DecisionRule | null): void {
  const rows: [string, string][] = [
    ['File', name],
    ['Architecture', `${s.arch} (head ${s.head})`],
    ['Classes', s.classes.join(', ')],
    [
      'Preprocessing',
      `shorter side ${s.resizeSize} px (${s.filter}), centre crop ${s.inputSize} px, normalised with mean ${s.mean.join('/')} and std ${s.std.join('/')}`,
    ],
    ['Decision', decisionText(s, rule)],
    ['Settings from', s.source === 'metadata' ? 'the model file' : 'you'],
  ];
  modelInfo.replaceChildren(
    ...rows.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      const dd = document.createElement('dd');
      dt.textContent = k;
      dd.textContent = v;
      return [dt, dd];
    }),
  );
  modelInfo.hidden = false;
}

/** The threshold that decides (two classes, the positive one among them), as applyDecisionRule applies it; else null (argmax). */
function decidingThreshold(s: ModelSettings, rule: DecisionRule | null): number | null {
  return rule?.threshold != null && s.classes.length === 2 && positiveIndex(s.classes, rule) >= 0 ? rule.threshold : null;
}

/** The rule in words, as `cxr predict` prints it. */
function decisionText(s: ModelSettings, rule: DecisionRule | null): string {
  const temperature = rule && rule.temperature !== 1 ? `; probabilities with temperature ${rule.temperature.toFixed(3)}, fitted on validation` : '';
  const t = decidingThreshold(s, rule);
  if (t === null) return `the most probable class${temperature}`;
  const p = positiveIndex(s.classes, rule);
  const [positive, other] = [s.classes[p], s.classes[1 - p]];
  return `${positive} when p(${positive}) ≥ ${t.toFixed(4)}, else ${other}: decision at threshold ${t.toFixed(4)} chosen on validation${rule!.thresholdSpec ? ` (${rule!.thresholdSpec})` : ''}${temperature}`;
}

function setImagesEnabled(on: boolean): void {
  imageInput.disabled = !on;
  imageDrop.setAttribute('aria-disabled', String(!on));
}

function classifyFiles(files: File[]): void {
  for (const file of files) {
    const item = document.createElement('li');
    item.className = 'result pending';
    item.dataset.file = file.name;
    const h = document.createElement('h3');
    h.textContent = file.name;
    const p = document.createElement('p');
    p.textContent = 'Waiting…';
    item.append(h, p);
    results.prepend(item);
    const c = classifier;
    queue = queue.then(async () => {
      if (!c) return;
      p.textContent = 'Classifying…';
      try {
        const r = await c.classify(new Uint8Array(await file.arrayBuffer()), file.name);
        renderResult(item, c, r);
      } catch (e) {
        item.className = 'result failed';
        p.textContent = message(e);
      }
    });
  }
  void queue.then(() => say(`${results.querySelectorAll('.result.done').length} image(s) classified on ${document.body.dataset.adapter}.`));
}

function renderResult(item: HTMLLIElement, c: Classifier, r: Classification): void {
  const s = c.settings;
  item.className = 'result done';
  item.dataset.label = r.label;
  item.dataset.camClass = r.camClass;
  item.dataset.probs = JSON.stringify(r.probs);
  item.dataset.logits = JSON.stringify(r.logits);
  const name = item.dataset.file!;
  const figure = document.createElement('figure');
  const canvas = drawImage(r.input);
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${name}, as the network sees it (${s.inputSize} px centre crop)`);
  const cam = drawHeatMap(r.cam, r.input.width, r.input.height);
  cam.setAttribute('aria-hidden', 'true');
  const caption = document.createElement('figcaption');
  caption.textContent = `Heat map: Grad-CAM for “${r.camClass}” at ${r.camLayer}`;
  figure.append(canvas, cam, caption);
  const verdict = document.createElement('p');
  verdict.className = 'verdict';
  verdict.innerHTML = 'Predicted: <strong></strong><span class="rule"></span>';
  verdict.querySelector('strong')!.textContent = `${r.label} (${(100 * r.probs[s.classes.indexOf(r.label)]).toFixed(1)}%)`;
  const t = decidingThreshold(s, c.rule);
  if (t !== null) {
    verdict.querySelector('.rule')!.textContent = ` — decision at threshold ${t.toFixed(4)} chosen on validation`;
  }
  const table = document.createElement('table');
  table.innerHTML = '<caption>Class probabilities</caption><thead><tr><th scope="col">Class</th><th scope="col">Probability</th></tr></thead>';
  const body = document.createElement('tbody');
  s.classes.forEach((cls, i) => {
    const tr = document.createElement('tr');
    if (cls === r.label) tr.className = 'best';
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = cls;
    const td = document.createElement('td');
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${(100 * r.probs[i]).toFixed(1)}%`;
    bar.setAttribute('aria-hidden', 'true');
    const text = document.createElement('span');
    text.textContent = `${(100 * r.probs[i]).toFixed(2)}%`;
    td.append(bar, text);
    tr.append(th, td);
    body.append(tr);
  });
  table.append(body);
  const foot = document.createElement('p');
  foot.className = 'meta';
  foot.textContent = `${r.ms.toFixed(0)} ms on this machine`;
  item.replaceChildren(item.querySelector('h3')!, figure, verdict, table, foot);
}

// File inputs (keyboard and pointer) and drag-and-drop onto their labels.
modelInput.addEventListener('change', async () => {
  const f = modelInput.files?.[0];
  if (f) await openModel(new Uint8Array(await f.arrayBuffer()), f.name);
});
imageInput.addEventListener('change', () => {
  classifyFiles([...(imageInput.files ?? [])]);
  imageInput.value = '';
});
for (const [zone, onFiles] of [
  [
    $('model-drop'),
    async (files: File[]) => {
      if (files[0]) await openModel(new Uint8Array(await files[0].arrayBuffer()), files[0].name);
    },
  ],
  [
    imageDrop,
    (files: File[]) => {
      if (classifier) classifyFiles(files);
    },
  ],
] as const) {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    void onFiles([...((e as DragEvent).dataTransfer?.files ?? [])]);
  });
}
const overlayToggle = $<HTMLInputElement>('overlay-toggle');
overlayToggle.addEventListener('change', () => document.body.classList.toggle('no-overlay', !overlayToggle.checked));
settingsForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!pendingModel) return;
  const classes = $<HTMLInputElement>('classes-input')
    .value.split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  if (classes.length < 2) return say('Give at least two class names, separated by commas.', true);
  const settings = userSettings({
    arch: $<HTMLSelectElement>('arch-input').value,
    head: $<HTMLInputElement>('head-input').value.trim() || 'replace',
    classes,
    inputSize: Number($<HTMLInputElement>('size-input').value),
  });
  await useModel(pendingModel.bytes, pendingModel.name, settings, pendingModel.rule);
});

void start();
