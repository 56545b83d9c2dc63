// The data audit on generated folders with planted problems (an exact copy across splits, a
// rescaled and brightened copy across splits, a duplicate within a split, a patient in two splits,
// a file-format shortcut) and on the real test set, whose classes come from different sources and
// formats: the shortcut probe must fire there and stay quiet on the synthetic default data.
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, loadImageFolder, synthesizeDataset } from '@cxr/data';
import { auditImageFolder, dropCrossSplitDuplicates } from '../src/audit/dataAudit.ts';
import { formatAuditReport, formatAuditText } from '../src/audit/auditReport.ts';

const realRoot = resolve(import.meta.dirname, '../../../../shared/datasets/cxr-real');
const quiet = { log: () => {}, warn: () => {} };
let work: string;

/** Half-size, 4% brighter 8-bit PNG copy of an image: a near duplicate, not a byte copy. */
function nearCopy(src: string, dst: string): void {
  const img = decodeImage(new Uint8Array(readFileSync(src)), src);
  const w = img.width >> 1;
  const h = img.height >> 1;
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 0;
      for (const [dy, dx] of [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ])
        v += img.data[((2 * y + dy) * img.width + 2 * x + dx) * img.channels];
      const g = Math.min(255, Math.round((v / 4 + 0.04) * 255));
      png.data.set([g, g, g, 255], 4 * (y * w + x));
    }
  }
  writeFileSync(dst, PNG.sync.write(png));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cxr-audit-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('data audit', () => {
  it('finds planted exact and near duplicates across and within splits; --dedupe drops them from the smaller split; no shortcut on synthetic data', async () => {
    const root = join(work, 'dups');
    await synthesizeDataset({ out: root, perClass: 30, size: 64, seed: 4 });
    const files = (split: string, c: string) =>
      readdirSync(join(root, split, c))
        .sort()
        .map((f) => join(root, split, c, f));
    const [a, b, c] = files('train', 'infected');
    copyFileSync(a, join(root, 'test', 'infected', 'copy-of-a' + a.slice(a.lastIndexOf('.'))));
    nearCopy(b, join(root, 'val', 'infected', 'near-b.png'));
    copyFileSync(c, join(root, 'train', 'infected', 'dup-c' + c.slice(c.lastIndexOf('.'))));
    const folder = await loadImageFolder(root, quiet);
    const { audit } = await auditImageFolder(folder);
    const cross = audit.duplicates.crossSplit.map((d) => [
      d.kind,
      [d.a.file, d.b.file]
        .map((f) => f.split('/').pop())
        .sort()
        .join(' '),
    ]);
    expect(cross).toContainEqual(['exact', [a.split('/').pop(), 'copy-of-a' + a.slice(a.lastIndexOf('.'))].sort().join(' ')]);
    expect(cross).toContainEqual(['near', [b.split('/').pop(), 'near-b.png'].sort().join(' ')]);
    expect(audit.duplicates.crossSplit).toHaveLength(2);
    expect(audit.duplicates.exactWithinSplit).toBe(1);
    expect(audit.findings.join(' ')).toMatch(/2 duplicate pair\(s\) span two splits/);
    expect(audit.shortcutProbe!.fires).toBe(false);
    expect(audit.shortcutProbe!.auc!).toBeLessThan(0.8);
    expect(formatAuditText(audit)).toMatch(/exact .*copy-of-a.* \(test\)|exact .*\(train\) = .*copy-of-a/);
    expect(formatAuditReport(audit)).toMatch(/## Data audit/);
    const trainBefore = folder.splits.train.length;
    const dropped = dropCrossSplitDuplicates(folder, audit)
      .map((f) => f.split('/').pop())
      .sort();
    expect(dropped).toEqual(['copy-of-a' + a.slice(a.lastIndexOf('.')), 'near-b.png'].sort());
    expect(folder.splits.train.length).toBe(trainBefore);
  });

  it('finds a patient in two splits (manifest groups) and a planted format shortcut', async () => {
    const jpg = join(work, 'jpg');
    const png = join(work, 'png');
    await synthesizeDataset({ out: jpg, perClass: 24, size: 48, seed: 5, formats: ['jpeg'] });
    await synthesizeDataset({ out: png, perClass: 24, size: 48, seed: 6, formats: ['png16'] });
    const root = join(work, 'shortcut');
    cpSync(join(jpg, 'train', 'infected'), join(root, 'infected'), { recursive: true });
    cpSync(join(png, 'train', 'normal'), join(root, 'normal'), { recursive: true });
    const rows = ['path,label,split,group'];
    for (const cls of ['infected', 'normal']) {
      readdirSync(join(root, cls))
        .sort()
        .forEach((f, i) => {
          const split = i < 10 ? 'train' : i < 13 ? 'val' : 'test';
          // Patient p-<cls>-0 has an image in train and one in test.
          const group = i === 0 || i === 13 ? `p-${cls}-0` : `p-${cls}-${i}`;
          rows.push(`${cls}/${f},${cls},${split},${group}`);
        });
    }
    writeFileSync(join(root, 'manifest.csv'), rows.join('\n') + '\n');
    const folder = await loadImageFolder(root, { ...quiet, manifest: join(root, 'manifest.csv') });
    const { audit } = await auditImageFolder(folder);
    expect(audit.patientOverlap!.map((g) => g.group)).toEqual(['p-infected-0', 'p-normal-0']);
    expect(audit.patientOverlap![0].splits).toEqual({ train: 1, test: 1 });
    const p = audit.shortcutProbe!;
    expect(p.fires).toBe(true);
    expect(p.auc!).toBeGreaterThan(0.95);
    expect(['JPEG format', 'bit depth', 'colour (stored channels)', 'bytes per pixel', 'log file size']).toContain(p.mostPredictive!.feature);
    expect(audit.findings.join(' ')).toMatch(/patient group\(s\) appear in more than one split/);
    expect(audit.findings.join(' ')).toMatch(/may learn the source or format/);
  });

  it('with three classes, probes every class against the rest: a shortcut between two other sources fires', async () => {
    // 'infected' and 'normal' from one source (JPEG), 'viral' from another (16-bit PNG), as in
    // Kaggle's database: infected against the rest alone misses it (AUC ~0.75).
    const jpg = join(work, 'jpg3');
    const png = join(work, 'png3');
    await synthesizeDataset({ out: jpg, perClass: 20, size: 48, seed: 7, formats: ['jpeg'] });
    await synthesizeDataset({ out: png, perClass: 20, size: 48, seed: 8, formats: ['png16'] });
    const root = join(work, 'three');
    cpSync(join(jpg, 'train', 'infected'), join(root, 'infected'), { recursive: true });
    cpSync(join(jpg, 'train', 'normal'), join(root, 'normal'), { recursive: true });
    cpSync(join(png, 'train', 'normal'), join(root, 'viral'), { recursive: true });
    const folder = await loadImageFolder(root, quiet);
    const { audit } = await auditImageFolder(folder);
    const p = audit.shortcutProbe!;
    expect(p.perClass!.map((c) => c.class)).toEqual(['infected', 'normal', 'viral']);
    expect(p.positiveClass).toBe('viral');
    expect(p.fires).toBe(true);
    expect(p.auc!).toBeGreaterThan(0.95);
    expect(p.perClass!.find((c) => c.class === 'infected')!.auc!).toBeLessThan(p.threshold);
    expect(audit.findings.join(' ')).toMatch(/for 'viral' against the rest/);
  });

  it.runIf(existsSync(realRoot) || process.env.CI === 'true')(
    'the shortcut probe fires on cxr-real (classes from different sources and formats)',
    async () => {
      const folder = await loadImageFolder(realRoot, quiet);
      const { audit } = await auditImageFolder(folder);
      const p = audit.shortcutProbe!;
      console.log(
        `cxr-real: probe AUC ${p.auc!.toFixed(3)} [${p.ci!.low.toFixed(3)}, ${p.ci!.high.toFixed(3)}], strongest ${p.mostPredictive!.feature} ${p.mostPredictive!.auc.toFixed(3)}; ${audit.seconds.toFixed(1)} s`,
      );
      expect(p.fires).toBe(true);
      expect(p.ci!.low).toBeGreaterThan(0.8);
      expect(audit.duplicates.crossSplit).toHaveLength(0);
    },
    600_000,
  );
});
