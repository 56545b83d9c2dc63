// End to end through the real CLI process: train on a tiny synthetic set, check every artefact,
// kill a run after its first epoch and resume it to the same weights as an uninterrupted run,
// compare `predict --json` with `eval`, and check each bad input's one-line error and exit code.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeDataset } from '@cxr/data';
import { openSafetensors } from '@cxr/models';

const root = resolve(import.meta.dirname, '../../..');
const tsx = join(root, 'node_modules/.bin/tsx');
const main = join(root, 'packages/cli/src/main.ts');
let work: string;
let data: string;

function cxr(args: string[], timeout = 600_000): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(tsx, [main, ...args], { cwd: work, encoding: 'utf8', timeout, env: { ...process.env, CXR_CACHE: join(work, 'cache') } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const tiny = [
  '--arch',
  'resnet18',
  '--weights',
  'none',
  '--image-size',
  '32',
  '--batch-size',
  '8',
  '--epochs',
  '2',
  '--optimizer',
  'sgd',
  '--lr',
  '0.01',
  '--seed',
  '3',
];

function weightsOf(file: string): Map<string, Float32Array | Int32Array> {
  const f = openSafetensors(file);
  try {
    return new Map(f.tensors.map((t) => [t.name, t.load().data as Float32Array]));
  } finally {
    f.close();
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cxr-e2e-'));
  data = join(work, 'data');
  await synthesizeDataset({ out: data, perClass: 14, size: 48, seed: 1 });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('cxr train', () => {
  it('writes every artefact, and they parse', () => {
    // --keep-checkpoints: the resume test below compares its last.safetensors (a successful run deletes them otherwise).
    const r = cxr(['train', '--data', data, '--out', 'runs/a', ...tiny, '--keep-checkpoints']);
    expect(r.code, r.stderr).toBe(0);
    const dir = join(work, 'runs/a');
    for (const f of [
      'config.json',
      'metrics.json',
      'history.csv',
      'model.safetensors',
      'report.md',
      'curves.png',
      'confusion.png',
      'samples.png',
      'last.safetensors',
      'optimizer.safetensors',
      'trainer.json',
      'audit.json',
      'MODEL_CARD.md',
      'roc.png',
      'pr.png',
      'calibration.png',
    ]) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    const metrics = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
    expect(metrics.epochs).toBe(2);
    for (const s of ['train', 'val', 'test']) {
      const m = metrics.splits[s];
      expect(m.accuracy).toBeGreaterThanOrEqual(0);
      expect(m.accuracy).toBeLessThanOrEqual(1);
      expect(m.confusion.matrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(m.n);
    }
    const history = readFileSync(join(dir, 'history.csv'), 'utf8').trim().split('\n');
    expect(history).toHaveLength(3);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config.arch).toBe('resnet18');
    for (const png of ['curves.png', 'confusion.png', 'samples.png', 'roc.png', 'pr.png', 'calibration.png']) {
      expect(readFileSync(join(dir, png)).subarray(1, 4).toString()).toBe('PNG');
    }
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toMatch(/## Metrics[\s\S]*curves\.png[\s\S]*confusion\.png/);
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toMatch(/\| Accuracy \| [\d.]+% \([\d.]+–[\d.]+\) \|/);
    expect(weightsOf(join(dir, 'model.safetensors')).get('fc.weight')!.length).toBe(512 * 2);
    // Evidence: intervals at the validation threshold, calibration, Grad-CAM, audit, model card.
    const ev = metrics.evidence;
    expect(ev.threshold.chosenOn).toBe('val');
    expect(ev.threshold.spec).toBe('youden');
    const acc = ev.intervals.test.accuracy;
    expect(acc.ci.low).toBeLessThanOrEqual(acc.value);
    expect(acc.ci.high).toBeGreaterThanOrEqual(acc.value);
    expect(ev.intervals.test.auc.value).toBeCloseTo(metrics.splits.test.auc, 10);
    // The most-probable-class metrics carry intervals too, and report.md shows them.
    const ci = metrics.splits.test.ci;
    expect(ci.method).toMatchObject({ proportions: 'wilson', resamples: 2000, seed: config.seed });
    for (const k of ['accuracy', 'recall', 'specificity', 'f1', 'macroF1', 'auc'] as const) {
      expect(ci[k].low, k).toBeLessThanOrEqual(metrics.splits.test[k] + 1e-12);
      expect(ci[k].high, k).toBeGreaterThanOrEqual(metrics.splits.test[k] - 1e-12);
    }
    expect(ci.perClass.map((c: { name: string }) => c.name)).toEqual(metrics.splits.test.classNames);
    expect(ev.calibration.bins).toBe(15);
    expect(ev.gradCam.layer).toBe('layer4');
    expect(ev.gradCam.images.length).toBeGreaterThan(0);
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(report).toMatch(/## Metrics with 95% intervals[\s\S]*## Operating point[\s\S]*roc\.png[\s\S]*## Calibration[\s\S]*## Grad-CAM[\s\S]*## Data audit/);
    const audit = JSON.parse(readFileSync(join(dir, 'audit.json'), 'utf8'));
    expect(audit.shortcutProbe.fires).toBe(false);
    expect(r.stdout + r.stderr).toMatch(/data audit of .*: \d+ images/);
    const card = readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8');
    expect(card).toMatch(/Research only, not diagnosis/);
    expect(card).toContain(`${ev.threshold.value.toFixed(4)}`);
    expect(card).toMatch(/## Known limits/);
  });

  it('resumes after a kill and ends with the weights of an uninterrupted run', async () => {
    const dir = join(work, 'runs/b');
    const killed = spawnSync(tsx, [main, 'train', '--data', data, '--out', 'runs/b', '--calibrate', 'temperature', ...tiny], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, CXR_CACHE: join(work, 'cache'), CXR_KILL_AFTER_EPOCH: '1' },
    });
    // tsx relays its child's death as exit status 128 + 9.
    expect(killed.signal === 'SIGKILL' || killed.status === 137, `status ${killed.status} signal ${killed.signal}`).toBe(true);
    expect(existsSync(join(dir, 'metrics.json'))).toBe(false);
    const again = cxr(['train', '--data', data, '--out', 'runs/b', ...tiny]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already holds an unfinished run; pass --resume/);
    // The bare form the README shows: the run's config.json supplies every setting (--calibrate too);
    // --keep-checkpoints keeps last.safetensors for the comparison below.
    const r = cxr(['train', '--out', 'runs/b', '--resume', '--keep-checkpoints']);
    expect(r.code, r.stderr).toBe(0);
    // --calibrate temperature: fitted on validation, reported before/after, stored with the model.
    const cal = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')).evidence.calibration;
    expect(cal.temperature).toBeGreaterThan(0);
    expect(cal.eceAfter).toBeGreaterThanOrEqual(0);
    const stored = openSafetensors(join(dir, 'model.safetensors'));
    expect(Number(stored.metadata['cxr.temperature'])).toBeCloseTo(cal.temperature, 12);
    // One format: the decision rule sits under cxr.* and does not repeat the positive class.
    expect(stored.metadata['cxr.positive_class']).toBe('infected');
    expect(Object.keys(stored.metadata).filter((k) => ['positive_class', 'temperature', 'threshold', 'threshold_spec'].includes(k))).toEqual([]);
    stored.close();
    expect(r.stdout).toMatch(/resuming .* after epoch 1/);
    const a = weightsOf(join(work, 'runs/a/last.safetensors'));
    const b = weightsOf(join(dir, 'last.safetensors'));
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, v] of a) expect(Buffer.compare(Buffer.from(v.buffer), Buffer.from(b.get(k)!.buffer)), k).toBe(0);
  });

  it('predict --json agrees with eval', () => {
    const dir = join(work, 'runs/a');
    const testDir = join(data, 'test');
    const files = readdirSync(testDir)
      .flatMap((c) => readdirSync(join(testDir, c)).map((f) => join(testDir, c, f)))
      .sort();
    const p = cxr(['predict', '--run', dir, '--json', ...files]);
    expect(p.code, p.stderr).toBe(0);
    const preds = JSON.parse(p.stdout) as { file: string; probs: number[]; logits: number[]; label: string; threshold: number | null }[];
    expect(preds).toHaveLength(files.length);
    for (const q of preds) expect(q.probs.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
    const e = cxr(['eval', '--run', dir, '--split', 'test']);
    expect(e.code, e.stderr).toBe(0);
    const m = JSON.parse(readFileSync(join(dir, 'eval-test.json'), 'utf8'));
    // eval's most-probable-class metrics carry the same intervals as the run's metrics.json (same seed, same split).
    expect(m.ci).toEqual(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')).splits.test.ci);
    expect(e.stdout).toMatch(/\| Accuracy \| [\d.]+% \([\d.]+–[\d.]+\) \|/);
    const correct = preds.filter((q) => q.file.includes(`/test/${q.label}/`)).length;
    // Both apply the model's stored decision rule (threshold chosen on validation).
    expect(correct / preds.length).toBeCloseTo(m.atThreshold.accuracy.value, 10);
    expect(preds[0].threshold).toBe(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')).evidence.threshold.value);
  });
});

/** Copies a safetensors file with its JSON header edited (padded to 8 bytes, as the format wants). */
function rewriteHeader(from: string, to: string, edit: (header: Record<string, Record<string, string>>) => void): void {
  const file = readFileSync(from);
  const n = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + n).toString());
  edit(header);
  let json = JSON.stringify(header);
  while (json.length % 8) json += ' ';
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(to, Buffer.concat([size, Buffer.from(json), file.subarray(8 + n)]));
}

describe('cxr explain', () => {
  it('writes one overlay PNG per image, or the maps as numbers with --json', () => {
    const dir = join(work, 'runs/a');
    const files = ['infected', 'normal'].map((c) => join(data, 'test', c, readdirSync(join(data, 'test', c)).sort()[0]));
    const r = cxr(['explain', '--run', dir, '--out', join(work, 'explain'), ...files]);
    expect(r.code, r.stderr).toBe(0);
    for (const f of files) {
      const png = join(
        work,
        'explain',
        `${f
          .split('/')
          .pop()!
          .replace(/\.[^.]+$/, '')}.gradcam.png`,
      );
      expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
    }
    const j = cxr(['explain', '--run', dir, '--json', '--class', 'normal', files[0]]);
    expect(j.code, j.stderr).toBe(0);
    const [x] = JSON.parse(j.stdout);
    expect(x.class).toBe('normal');
    expect(x.layer).toBe('layer4');
    expect(x.map).toHaveLength(32 * 32);
    expect(Math.max(...x.map)).toBeLessThanOrEqual(1);
    expect(Math.min(...x.map)).toBeGreaterThanOrEqual(0);
    const bad = cxr(['explain', '--run', dir, '--class', 'covid', files[0]]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--class covid is not one of infected, normal/);
  });

  it("uses the model file's preprocessing, as predict does (a bare weights file: bilinear, torchvision's preset)", () => {
    // The run's model with its metadata dropped: what a file from elsewhere looks like.
    const bare = join(work, 'bare.safetensors');
    rewriteHeader(join(work, 'runs/a/model.safetensors'), bare, (header) => {
      delete header.__metadata__;
    });
    const image = join(data, 'test', 'infected', readdirSync(join(data, 'test', 'infected')).sort()[0]);
    const flags = ['--weights', bare, '--arch', 'resnet18', '--classes', 'infected,normal', '--image-size', '32'];
    const p = cxr(['predict', ...flags, '--json', image]);
    expect(p.code, p.stderr).toBe(0);
    const e = cxr(['explain', ...flags, '--json', '--class', 'infected', image]);
    expect(e.code, e.stderr).toBe(0);
    const [predicted] = JSON.parse(p.stdout) as { probs: number[] }[];
    const [explained] = JSON.parse(e.stdout) as { probability: number }[];
    // Relative: the synthetic test image's probabilities can be tiny (the old bicubic input was 4 % off).
    expect(Math.abs(explained.probability - predicted.probs[0]) / predicted.probs[0]).toBeLessThan(1e-3);
  });

  it('explains the decided class by default, also where the stored threshold overrules the most probable class', () => {
    // The run's model with its threshold moved to almost 0: every image is decided 'infected'.
    const model = join(work, 'low-threshold.safetensors');
    rewriteHeader(join(work, 'runs/a/model.safetensors'), model, (header) => {
      expect(header.__metadata__['cxr.positive_class']).toBe('infected');
      header.__metadata__['cxr.threshold'] = '1e-9';
    });
    const images = readdirSync(join(data, 'test', 'normal'))
      .sort()
      .map((f) => join(data, 'test', 'normal', f));
    const p = cxr(['predict', '--model', model, '--json', ...images]);
    expect(p.code, p.stderr).toBe(0);
    const predicted = JSON.parse(p.stdout) as { file: string; label: string; probs: number[] }[];
    // An image the model finds more likely normal, yet decided infected at this threshold.
    const overruled = predicted.find((r) => r.probs[1] > r.probs[0]);
    expect(overruled, 'no test image is more likely normal').toBeDefined();
    expect(overruled!.label).toBe('infected');
    const e = cxr(['explain', '--model', model, '--json', overruled!.file]);
    expect(e.code, e.stderr).toBe(0);
    const [x] = JSON.parse(e.stdout) as { class: string; predicted: string; map: number[] }[];
    expect(x.predicted).toBe('infected');
    expect(x.class).toBe('infected');
    // The same map as asking for that class by name.
    const named = cxr(['explain', '--model', model, '--json', '--class', 'infected', overruled!.file]);
    expect(JSON.parse(named.stdout)[0].map).toEqual(x.map);
  });
});

describe('cxr data audit', () => {
  it('--json prints what audit.json holds', () => {
    const r = cxr(['data', 'audit', data, '--json', '--out', join(work, 'audit.json')]);
    expect(r.code, r.stderr).toBe(0);
    const a = JSON.parse(r.stdout);
    expect(a).toEqual(JSON.parse(readFileSync(join(work, 'audit.json'), 'utf8')));
    expect(a.files).toBe(28);
    expect(a.shortcutProbe.auc).toBeGreaterThan(0);
  });
});

describe('bad input: one-line errors and non-zero exits', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['a missing data folder', () => ['train', '--data', join(work, 'nope'), '--out', 'runs/x', ...tiny], /--data .*nope: no such folder/],
    [
      'an empty data folder',
      () => {
        mkdirSync(join(work, 'empty'), { recursive: true });
        return ['train', '--data', join(work, 'empty'), '--out', 'runs/x', ...tiny];
      },
      /found 0 class folder|empty|no image/i,
    ],
    [
      'a single class',
      () => {
        const d = join(work, 'single/train/infected');
        mkdirSync(d, { recursive: true });
        copyFileSync(join(data, 'train/infected', readdirSync(join(data, 'train/infected'))[0]), join(d, 'a.png'));
        return ['train', '--data', join(work, 'single'), '--out', 'runs/x', ...tiny];
      },
      /need at least 2/,
    ],
    ['a bad --threshold', () => ['train', '--data', data, '--out', 'runs/x', ...tiny, '--threshold', 'best'], /--threshold best: use youden/],
    ['data audit of a missing folder', () => ['data', 'audit', join(work, 'nope')], /data audit: .*nope: no such folder/],
    ['an unknown architecture', () => ['train', '--data', data, '--arch', 'resnet19', '--out', 'runs/x'], /unknown --arch 'resnet19'/],
    ['an image size too small', () => ['train', '--data', data, '--out', 'runs/x', ...tiny, '--image-size', '16'], /image-size/],
    // The file records its head, so the contradiction is named before any loading.
    [
      'weights that do not fit the head',
      () => ['eval', '--weights', join(work, 'runs/a/model.safetensors'), '--arch', 'resnet18', '--head', 'mlp:530', '--data', data],
      /--head mlp:530 contradicts .*model\.safetensors, which was trained with --head replace/,
    ],
    ['a finished run folder without --force', () => ['train', '--data', data, '--out', 'runs/a', ...tiny], /already holds a finished run/],
    [
      'an unknown --positive',
      () => ['train', '--data', data, '--out', 'runs/x', ...tiny, '--positive', 'covid'],
      /--positive covid: no such class; the classes are infected, normal/,
    ],
  ];
  for (const [what, args, message] of cases) {
    it(what, () => {
      const argv = args();
      const r = cxr(argv);
      expect(r.code).not.toBe(0);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('cxr:') || l.startsWith('error'));
      expect(lines.length, r.stderr).toBeGreaterThan(0);
      expect(r.stderr).toMatch(message);
      expect(existsSync(join(work, 'runs/x/metrics.json'))).toBe(false);
      // train refuses before the data audit, which takes minutes on a real collection.
      if (argv[0] === 'train') expect(r.stdout + r.stderr).not.toMatch(/data audit/);
    });
  }
});
