import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ImageDecodeError } from '../decode/errors.ts';
import { readImageHeader } from '../decode/header.ts';
import { readBytes } from '../fsutil.ts';
import { parseCsv } from './csv.ts';
import { DEFAULT_FRACTIONS, SPLITS, stratifiedSplit, type SplitFractions, type SplitName } from './split.ts';

export interface Sample {
  /** absolute path */
  file: string;
  label: number;
}

/** What the loader needs: a class list and labelled files. */
export interface Dataset {
  classes: string[];
  samples: Sample[];
}

export type OnBadImage = 'error' | 'skip';

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface LoadOptions {
  /** seed for the stratified split when the root has no split folders (default 0) */
  seed?: number;
  fractions?: SplitFractions;
  /** CSV manifest with columns path,label[,split] (header row required); paths relative to the CSV */
  manifest?: string;
  /** 'header' (default) reads each file's header to catch empty, truncated or non-image files early */
  verify?: 'header' | 'none';
  onBadImage?: OnBadImage;
  /** where the per-split/class counts and the skipped list go (default console.log / console.warn) */
  log?: (msg: string) => void;
  warn?: (msg: string) => void;
}

const IMAGE_EXT = /\.(png|jpe?g)$/i;

/**
 * torchvision-style ImageFolder with splits: `root/<split>/<class>/*` or `root/<class>/*` (then
 * split here, seeded and stratified), or a CSV manifest. Class indices follow sorted class names.
 */
export class ImageFolder {
  constructor(
    readonly root: string,
    readonly classes: string[],
    readonly splits: Record<SplitName, Sample[]>,
    /** files that failed verification under onBadImage 'skip' */
    readonly skipped: SkippedFile[],
    /** files under class folders without an image extension (never read, listed so nothing vanishes silently) */
    readonly ignored: string[],
    /** 'folders' when the root had split folders, 'seeded' when split here, 'manifest' for CSV splits */
    readonly splitSource: 'folders' | 'seeded' | 'manifest',
  ) {}

  split(name: SplitName): Dataset {
    return { classes: this.classes, samples: this.splits[name] };
  }

  counts(): Record<SplitName, Record<string, number>> {
    const out = {} as Record<SplitName, Record<string, number>>;
    for (const s of SPLITS) {
      out[s] = Object.fromEntries(this.classes.map((c) => [c, 0]));
      for (const smp of this.splits[s]) out[s][this.classes[smp.label]]++;
    }
    return out;
  }

  summary(): string {
    const c = this.counts();
    const w = Math.max(5, ...this.classes.map((k) => k.length));
    const lines = [`ImageFolder ${this.root} (${this.splitSource} split), classes: ${this.classes.map((k, i) => `${i}=${k}`).join(', ')}`];
    lines.push(`  ${'split'.padEnd(6)} ${this.classes.map((k) => k.padStart(w)).join(' ')} ${'total'.padStart(w)}`);
    for (const s of SPLITS) {
      const row = this.classes.map((k) => String(c[s][k]).padStart(w));
      lines.push(`  ${s.padEnd(6)} ${row.join(' ')} ${String(this.splits[s].length).padStart(w)}`);
    }
    if (this.skipped.length) lines.push(`  skipped ${this.skipped.length} bad file(s)`);
    if (this.ignored.length) lines.push(`  ignored ${this.ignored.length} non-image file(s), e.g. ${this.ignored[0]}`);
    return lines.join('\n');
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function listClassDir(dir: string): Promise<{ classes: Map<string, string[]>; ignored: string[] }> {
  const classes = new Map<string, string[]>();
  const ignored: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const files: string[] = [];
    for (const f of await readdir(path.join(dir, e.name), { withFileTypes: true })) {
      const full = path.join(dir, e.name, f.name);
      if (f.isFile() && IMAGE_EXT.test(f.name)) files.push(full);
      else ignored.push(full);
    }
    files.sort();
    classes.set(e.name, files);
  }
  return { classes, ignored };
}

/** Reads enough of a file to check its header; a JPEG's SOF can sit after a large Exif/ICC block. */
export async function verifyHeader(file: string): Promise<void> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const n = Math.min(size, 65536);
    const buf = new Uint8Array(n);
    await fh.read(buf, 0, n, 0);
    try {
      readImageHeader(buf, file);
    } catch (e) {
      if (n === size || !(e instanceof ImageDecodeError) || !e.reason.startsWith('truncated')) throw e;
      readImageHeader(await readBytes(file), file);
    }
  } finally {
    await fh.close();
  }
}

export async function loadImageFolder(root: string, opts: LoadOptions = {}): Promise<ImageFolder> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const seed = opts.seed ?? 0;
  root = path.resolve(root);
  let labelled: Array<{ file: string; cls: string; split?: SplitName }> = [];
  let ignored: string[] = [];
  let splitSource: ImageFolder['splitSource'];
  if (opts.manifest) {
    const csvPath = path.resolve(root, opts.manifest);
    const rows = parseCsv(await readFile(csvPath, 'utf8'));
    const head = rows.shift()?.map((h) => h.trim().toLowerCase()) ?? [];
    const ip = head.indexOf('path');
    const il = head.indexOf('label');
    const is = head.indexOf('split');
    if (ip < 0 || il < 0) throw new Error(`manifest ${csvPath}: needs a header with 'path' and 'label' columns, got '${head.join(',')}'`);
    const base = path.dirname(csvPath);
    rows.forEach((r, i) => {
      const split = is >= 0 ? r[is]?.trim() : undefined;
      if (split && !(SPLITS as readonly string[]).includes(split)) throw new Error(`manifest ${csvPath} line ${i + 2}: split '${split}' is not one of ${SPLITS.join('/')}`);
      if (!r[ip] || !r[il]) throw new Error(`manifest ${csvPath} line ${i + 2}: empty path or label`);
      labelled.push({ file: path.resolve(base, r[ip].trim()), cls: r[il].trim(), split: (split || undefined) as SplitName | undefined });
    });
    const withSplit = labelled.filter((x) => x.split).length;
    if (withSplit !== 0 && withSplit !== labelled.length) throw new Error(`manifest ${csvPath}: 'split' is set on ${withSplit} of ${labelled.length} rows; set it on all or none`);
    splitSource = withSplit ? 'manifest' : 'seeded';
  } else {
    const present: SplitName[] = [];
    for (const s of SPLITS) if (await isDir(path.join(root, s))) present.push(s as SplitName);
    if (present.length) {
      splitSource = 'folders';
      for (const s of present) {
        const l = await listClassDir(path.join(root, s));
        ignored.push(...l.ignored);
        for (const [cls, files] of l.classes) for (const file of files) labelled.push({ file, cls, split: s });
      }
    } else {
      splitSource = 'seeded';
      const l = await listClassDir(root);
      ignored = l.ignored;
      for (const [cls, files] of l.classes) for (const file of files) labelled.push({ file, cls });
    }
  }
  if (!labelled.length) throw new Error(`no images (*.png, *.jpg, *.jpeg) found under ${root}; expected root/<split>/<class>/* or root/<class>/*`);

  const skipped: SkippedFile[] = [];
  if ((opts.verify ?? 'header') === 'header') {
    const bad = new Set<string>();
    // modest concurrency: enough to hide file-open latency, not enough to exhaust descriptors
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < labelled.length) {
          const f = labelled[next++].file;
          try {
            await verifyHeader(f);
          } catch (e) {
            const reason = e instanceof ImageDecodeError ? e.reason : (e as Error).message;
            if ((opts.onBadImage ?? 'error') === 'error') throw e instanceof ImageDecodeError ? e : new ImageDecodeError(f, reason);
            skipped.push({ file: f, reason });
            bad.add(f);
          }
        }
      }),
    );
    skipped.sort((a, b) => a.file.localeCompare(b.file));
    labelled = labelled.filter((x) => !bad.has(x.file));
  }

  const classes = [...new Set(labelled.map((x) => x.cls))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const splits: Record<SplitName, Sample[]> = { train: [], val: [], test: [] };
  if (splitSource === 'seeded') {
    const parts = stratifiedSplit(labelled, (x) => x.cls, seed, opts.fractions ?? DEFAULT_FRACTIONS);
    for (const s of SPLITS) splits[s] = parts[s].map((x) => ({ file: x.file, label: index.get(x.cls)! }));
  } else {
    for (const x of labelled) splits[x.split!].push({ file: x.file, label: index.get(x.cls)! });
  }
  const folder = new ImageFolder(root, classes, splits, skipped, ignored, splitSource);
  log(folder.summary());
  if (skipped.length) warn(`skipped ${skipped.length} bad image(s):\n${skipped.map((s) => `  ${s.file}: ${s.reason}`).join('\n')}`);
  return folder;
}
