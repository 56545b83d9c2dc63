// Dataset layouts as researchers bring them: split-folder aliases in any case, train/test only,
// Kaggle-style <Class>/images with masks beside, --classes, and manifests with patient groups.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { groupedStratifiedSplit, loadImageFolder, parseClassSelection, type ImageFolder } from '../src/index.ts';
import { testRng, tmpDir } from './helpers.ts';

const { rng, seed } = testRng('layouts');
const { dir, cleanup } = tmpDir('layouts');
afterAll(cleanup);

const tinyBuf = PNG.sync.write({ width: 4, height: 4, data: Buffer.alloc(16, 9) } as PNG, {
  colorType: 0,
  inputColorType: 0,
  bitDepth: 8,
  inputHasAlpha: false,
});
const tiny = new Uint8Array(tinyBuf.buffer, tinyBuf.byteOffset, tinyBuf.byteLength);

function images(folder: string, n: number, prefix = 'img'): string[] {
  mkdirSync(folder, { recursive: true });
  return Array.from({ length: n }, (_, i) => {
    const f = path.join(folder, `${prefix}${i}.png`);
    writeFileSync(f, tiny);
    return f;
  });
}

function total(ds: ImageFolder): number {
  return ds.splits.train.length + ds.splits.val.length + ds.splits.test.length;
}

async function load(root: string, opts: Parameters<typeof loadImageFolder>[1] = {}): Promise<{ ds: ImageFolder; log: string }> {
  const logs: string[] = [];
  const ds = await loadImageFolder(root, { seed, log: (m) => logs.push(m), warn: (m) => logs.push(m), ...opts });
  return { ds, log: logs.join('\n') };
}

describe('split folders', () => {
  it('Train/Validation/Test (capitalised, torchvision style) are splits, not classes', async () => {
    const root = path.join(dir, 'caps');
    const n = { Train: 5 + rng.int(0, 5), Validation: 2 + rng.int(0, 3), Test: 2 + rng.int(0, 3) };
    for (const [s, k] of Object.entries(n)) for (const c of ['COVID', 'Normal']) images(path.join(root, s, c), k);
    const { ds, log } = await load(root);
    expect(ds.classes).toEqual(['COVID', 'Normal']);
    expect(ds.splitSource).toBe('folders');
    expect(ds.counts()).toEqual({
      train: { COVID: n.Train, Normal: n.Train },
      val: { COVID: n.Validation, Normal: n.Validation },
      test: { COVID: n.Test, Normal: n.Test },
    });
    expect(log).toContain('Train→train');
    expect(log).toContain('Validation→val');
    expect(ds.splits.test.every((s) => s.file.includes(`${path.sep}Test${path.sep}`))).toBe(true);
  });

  it('training/dev/TESTING aliases; two folders for one split is an error naming both', async () => {
    const root = path.join(dir, 'alias');
    for (const s of ['training', 'dev', 'TESTING']) for (const c of ['a', 'b']) images(path.join(root, s, c), 3);
    const { ds } = await load(root);
    expect(ds.info.splitFolders).toEqual({ train: 'training', val: 'dev', test: 'TESTING' });
    expect(ds.counts().val).toEqual({ a: 3, b: 3 });
    images(path.join(root, 'Valid', 'a'), 1);
    await expect(load(root)).rejects.toThrow(/'dev' and 'Valid'|'Valid' and 'dev'/);
  });

  it('train/ + test/ only: validation carved out of train, seeded, stratified, --val-fraction honoured', async () => {
    const root = path.join(dir, 'traintest');
    const sizes = { covid: 20 + rng.int(0, 30), normal: 40 + rng.int(0, 40) };
    const trainFiles = new Set<string>();
    for (const [c, k] of Object.entries(sizes)) {
      for (const f of images(path.join(root, 'train', c), k)) trainFiles.add(f);
      images(path.join(root, 'test', c), 4);
    }
    for (const vf of [0.15, 0.3]) {
      const { ds, log } = await load(root, { valFraction: vf });
      expect(ds.info.carved).toEqual(['val']);
      expect(log).toMatch(/val carved from train/);
      expect(ds.counts().test).toEqual({ covid: 4, normal: 4 });
      for (const [c, k] of Object.entries(sizes)) {
        expect(Math.abs(ds.counts().val[c] - k * vf)).toBeLessThanOrEqual(1);
        expect(ds.counts().train[c] + ds.counts().val[c]).toBe(k);
      }
      expect(ds.splits.val.every((s) => trainFiles.has(s.file))).toBe(true);
      expect(new Set([...ds.splits.train, ...ds.splits.val].map((s) => s.file)).size).toBe(trainFiles.size);
      const again = await load(root, { valFraction: vf });
      expect(again.ds.splits).toEqual(ds.splits);
    }
    const other = await load(root, { seed: seed + 1 });
    const first = await load(root);
    expect(other.ds.splits.val).not.toEqual(first.ds.splits.val);
    await expect(load(root, { valFraction: 1.5 })).rejects.toThrow(/--val-fraction 1\.5/);
  });

  it('one folder of classes: all three splits carved (as before)', async () => {
    const root = path.join(dir, 'flat');
    for (const c of ['x', 'y']) images(path.join(root, c), 20);
    const { ds } = await load(root);
    expect(ds.splitSource).toBe('seeded');
    expect(ds.counts()).toEqual({ train: { x: 14, y: 14 }, val: { x: 3, y: 3 }, test: { x: 3, y: 3 } });
  });
});

describe('Kaggle COVID-19 Radiography layout: <Class>/images with masks beside', () => {
  const root = path.join(dir, 'kaggle');
  const n = { COVID: 12, Normal: 20, Lung_Opacity: 8, 'Viral Pneumonia': 5 };
  const masks = new Set<string>();
  for (const [c, k] of Object.entries(n)) {
    images(path.join(root, c, 'images'), k);
    for (const f of images(path.join(root, c, 'masks'), k)) masks.add(f);
  }
  writeFileSync(path.join(root, 'COVID.metadata.xlsx'), 'x');
  writeFileSync(path.join(root, 'README.md.txt'), 'x');
  writeFileSync(path.join(root, 'Normal', 'images', 'Thumbs.db'), 'x');
  mkdirSync(path.join(root, 'COVID', 'annotations'));
  writeFileSync(path.join(root, 'COVID', 'annotations', 'boxes.json'), '{}');

  it('finds the images below each class, never decodes masks, and counts what it ignored', async () => {
    const { ds, log } = await load(root);
    expect(ds.classes).toEqual(['COVID', 'Lung_Opacity', 'Normal', 'Viral Pneumonia']);
    expect(total(ds)).toBe(45);
    const all = [...ds.splits.train, ...ds.splits.val, ...ds.splits.test];
    expect(all.some((s) => masks.has(s.file) || s.file.includes(`${path.sep}masks${path.sep}`))).toBe(false);
    expect(ds.info.ignoredFolders.map((f) => path.relative(root, f.dir)).sort()).toEqual([
      'COVID/annotations',
      'COVID/masks',
      'Lung_Opacity/masks',
      'Normal/masks',
      'Viral Pneumonia/masks',
    ]);
    expect(ds.info.ignoredFolders.reduce((a, f) => a + f.files, 0)).toBe(45 + 1);
    expect(ds.ignored.map((f) => path.basename(f)).sort()).toEqual(['COVID.metadata.xlsx', 'README.md.txt', 'Thumbs.db']);
    expect(log).toMatch(/ignored 5 folder\(s\) that are not classes or images \(46 files\)/);
    expect(log).toMatch(/ignored 3 non-image file\(s\)/);
  });

  it('--classes COVID=infected,Normal=normal keeps two of four and renames them', async () => {
    const { ds, log } = await load(root, { classes: 'COVID=infected,Normal=normal' });
    expect(ds.classes).toEqual(['infected', 'normal']);
    const c = ds.counts();
    expect(c.train.infected + c.val.infected + c.test.infected).toBe(12);
    expect(c.train.normal + c.val.normal + c.test.normal).toBe(20);
    expect(log).toContain('COVID→infected');
    expect(log).toMatch(/left out by --classes: Lung_Opacity \(8 images\), Viral Pneumonia \(5 images\)/);
  });

  it('--classes keeps names as given (case-insensitive match) and merges several folders into one', async () => {
    const { ds } = await load(root, { classes: 'covid,normal,Lung_Opacity=pneumonia,viral pneumonia=pneumonia' });
    expect(ds.classes).toEqual(['covid', 'normal', 'pneumonia']);
    const c = ds.counts();
    expect(c.train.pneumonia + c.val.pneumonia + c.test.pneumonia).toBe(13);
  });

  it('a --classes name that matches no folder is an error listing the folders found', async () => {
    await expect(load(root, { classes: 'COVID,Pneumonia' })).rejects.toThrow(
      /no class 'Pneumonia'.*found 'COVID', 'Lung_Opacity', 'Normal', 'Viral Pneumonia'/,
    );
    expect(() => parseClassSelection('COVID=')).toThrow(/both sides/);
    expect(() => parseClassSelection('COVID')).toThrow(/fewer than 2 classes/);
  });
});

describe('COVID-QU-Ex layout: <Split>/<Class>/images with qualified mask folders beside', () => {
  const root = path.join(dir, 'quex');
  const maskDirs = ['lung masks', 'infection masks', 'Lung Masks', 'infection_masks', 'Lesion-Annotations'];
  for (const split of ['Train', 'Val', 'Test'])
    for (const [c, masks] of [
      ['COVID-19', maskDirs],
      ['Normal', ['lung masks']],
    ] as const) {
      images(path.join(root, split, c, 'images'), 3);
      for (const m of masks) images(path.join(root, split, c, m), 3);
    }

  it('never takes a folder named with the word mask(s) or annotation(s) as images, and lists each one', async () => {
    const { ds, log } = await load(root);
    expect(ds.classes).toEqual(['COVID-19', 'Normal']);
    expect(ds.counts()).toEqual({ train: { 'COVID-19': 3, Normal: 3 }, val: { 'COVID-19': 3, Normal: 3 }, test: { 'COVID-19': 3, Normal: 3 } });
    const all = [...ds.splits.train, ...ds.splits.val, ...ds.splits.test];
    expect(all.every((s) => path.basename(path.dirname(s.file)) === 'images')).toBe(true);
    const ignored = ds.info.ignoredFolders.map((f) => path.relative(root, f.dir));
    expect(ignored).toHaveLength(3 * (maskDirs.length + 1));
    expect(ignored).toContain(path.join('Train', 'COVID-19', 'infection_masks'));
    expect(ignored).toContain(path.join('Test', 'Normal', 'lung masks'));
    expect(log).toMatch(/ignored 18 folder\(s\) that are not classes or images \(54 files\)/);
  });
});

describe('manifest with patient groups', () => {
  const root = path.join(dir, 'manifest');
  mkdirSync(path.join(root, 'img'), { recursive: true });
  // 40 patients, 1-5 images each, label fixed per patient; covid patients are fewer
  const rows: { file: string; label: string; group: string }[] = [];
  for (let p = 0; p < 40; p++) {
    const label = p % 3 === 0 ? 'covid' : 'normal';
    const k = 1 + rng.int(0, 5);
    for (let j = 0; j < k; j++) {
      const file = `img/p${p}_${j}.png`;
      writeFileSync(path.join(root, file), tiny);
      rows.push({ file, label, group: `P${p}` });
    }
  }
  const write = (name: string, header: string, line: (r: (typeof rows)[number], i: number) => string, subset = rows) => {
    writeFileSync(path.join(root, name), [header, ...subset.map(line)].join('\n') + '\n');
    return name;
  };

  it('group and no split: split by group, no group in two splits, every split filled, groups per split reported', async () => {
    const m = write('groups.csv', 'path,label,group', (r) => `${r.file},${r.label},${r.group}`);
    const { ds, log } = await load(root, { manifest: m });
    expect(total(ds)).toBe(rows.length);
    const where = new Map<string, Set<string>>();
    for (const s of ['train', 'val', 'test'] as const) {
      expect(ds.splits[s].length).toBeGreaterThan(0);
      for (const x of ds.splits[s]) (where.get(x.group!) ?? where.set(x.group!, new Set()).get(x.group!)!).add(s);
    }
    expect(where.size).toBe(40);
    expect([...where.values()].every((s) => s.size === 1)).toBe(true);
    const g = ds.groupCounts();
    expect(g.train + g.val + g.test).toBe(40);
    expect(log).toContain(`groups (patients): train ${g.train}, val ${g.val}, test ${g.test}`);
    // stratified as closely as whole patients allow: each class near 70/15/15
    const c = ds.counts();
    for (const cls of ds.classes) {
      const n = c.train[cls] + c.val[cls] + c.test[cls];
      expect(c.train[cls] / n).toBeGreaterThan(0.5);
      expect(c.val[cls]).toBeGreaterThan(0);
      expect(c.test[cls]).toBeGreaterThan(0);
    }
    const again = await load(root, { manifest: m });
    expect(again.ds.splits).toEqual(ds.splits);
  });

  it('train/test given with groups: validation carved from train by group; split aliases accepted', async () => {
    const m = write(
      'tt.csv',
      'path,label,split,group',
      (r) => `${r.file},${r.label},${Number(r.group.slice(1)) % 5 === 0 ? 'Testing' : 'Training'},${r.group}`,
    );
    const { ds } = await load(root, { manifest: m });
    expect(ds.info.carved).toEqual(['val']);
    const trainGroups = new Set(ds.splits.train.map((x) => x.group));
    expect(ds.splits.val.length).toBeGreaterThan(0);
    expect(ds.splits.val.some((x) => trainGroups.has(x.group))).toBe(false);
    expect(ds.splits.test.every((x) => Number(x.group!.slice(1)) % 5 === 0)).toBe(true);
  });

  it('a row whose file is missing is named with its line number', async () => {
    const m = write('missing.csv', 'path,label,group', (r, i) => (i === 6 ? `img/nope.png,${r.label},${r.group}` : `${r.file},${r.label},${r.group}`));
    await expect(load(root, { manifest: m })).rejects.toThrow(/missing\.csv line 8: image 'img\/nope\.png' not found/);
  });

  it('an image listed twice (even spelled differently) is refused, naming it and both lines', async () => {
    const m = write('twice.csv', 'path,label,split', (r, i) => `${i === 9 ? `./${rows[2].file}` : r.file},${r.label},${i < 5 ? 'train' : 'test'}`);
    await expect(load(root, { manifest: m })).rejects.toThrow(
      new RegExp(`twice\\.csv line 11: image '\\./${rows[2].file.replace('.', '\\.')}' is already listed on line 4`),
    );
  });

  it('groups that cannot fill three splits are refused with the reason', async () => {
    const two = rows.filter((r) => r.group === 'P0' || r.group === 'P1');
    const m = write('two.csv', 'path,label,group', (r) => `${r.file},${r.label},${r.group}`, two);
    await expect(load(root, { manifest: m })).rejects.toThrow(/2 group\(s\) cannot fill the .*split\(s\) without putting one patient in two splits/);
  });

  it('groupedStratifiedSplit keeps every class near its fractions over random groups', () => {
    const items: { g: string; c: string }[] = [];
    for (let p = 0; p < 300; p++) {
      const c = ['a', 'b', 'c'][rng.int(0, 3)];
      const k = 1 + rng.int(0, 4);
      for (let j = 0; j < k; j++) items.push({ g: `g${p}`, c });
    }
    const parts = groupedStratifiedSplit(
      items,
      (x) => x.c,
      (x) => x.g,
      seed,
      { train: 0.7, val: 0.15, test: 0.15 },
    );
    for (const c of ['a', 'b', 'c']) {
      const n = items.filter((x) => x.c === c).length;
      for (const [s, f] of [
        ['train', 0.7],
        ['val', 0.15],
        ['test', 0.15],
      ] as const) {
        expect(Math.abs(parts[s].filter((x) => x.c === c).length / n - f)).toBeLessThan(0.05);
      }
    }
    const seen = new Map<string, string>();
    for (const s of ['train', 'val', 'test'] as const)
      for (const x of parts[s]) {
        expect(seen.get(x.g) ?? s).toBe(s);
        seen.set(x.g, s);
      }
    expect(parts.train.length + parts.val.length + parts.test.length).toBe(items.length);
  });
});
