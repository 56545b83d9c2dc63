import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { ImageDecodeError } from '../decode/errors.ts';
import { readImageHeader } from '../decode/header.ts';
import { readBytes } from '../fsutil.ts';
import { parseClassSelection, resolveClassSelection, type ClassPick } from './classSelection.ts';
import { groupedStratifiedSplit } from './groupSplit.ts';
import { scanLayout, type IgnoredEntries } from './layout.ts';
import { readManifest } from './manifest.ts';
import { SPLITS, stratifiedSplit, type SplitFractions, type SplitName } from './split.ts';

export interface Sample {
  /** absolute path */
  file: string;
  label: number;
  /** patient (or other) group from a manifest's 'group' column */
  group?: string;
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
  /** The split its split folder or manifest row gave it; absent where the splits are made after the check. */
  split?: SplitName;
}

export interface LoadOptions {
  /** seed for the stratified splits made here (default 0) */
  seed?: number;
  /** fractions when all three splits are carved here (default: 1 - valFraction - 0.15, valFraction, 0.15) */
  fractions?: SplitFractions;
  /** share of train carved out as validation when the data has train and test but no validation (default 0.15) */
  valFraction?: number;
  /** CSV manifest with columns path,label[,split][,group] (header row required); paths relative to the CSV */
  manifest?: string;
  /** --classes: keep, rename and merge classes, e.g. 'COVID=infected,Normal=normal' */
  classes?: string | readonly ClassPick[];
  /** 'header' (default) reads each file's header to catch empty, truncated or non-image files early */
  verify?: 'header' | 'none';
  onBadImage?: OnBadImage;
  /** where the per-split/class counts and the skipped list go (default console.log / console.warn) */
  log?: (msg: string) => void;
  warn?: (msg: string) => void;
}

export const DEFAULT_VAL_FRACTION = 0.15;
const DEFAULT_TEST_FRACTION = 0.15;

/** How the splits came about, for the summary and for callers that report it. */
export interface FolderInfo {
  /** 'folders' when the root had split folders, 'seeded' when all splits were made here, 'manifest' for CSV splits */
  splitSource: 'folders' | 'seeded' | 'manifest';
  /** split folders found on disk, e.g. { train: 'Train', test: 'Test' } */
  splitFolders: Partial<Record<SplitName, string>>;
  /** splits cut out of train here (['val'] for a train/test layout) */
  carved: SplitName[];
  /** files without an image extension (never read, listed so nothing vanishes silently) */
  ignored: string[];
  /** mask/annotation (and other non-class) folders skipped whole, with their file counts */
  ignoredFolders: IgnoredEntries['folders'];
  /** found class -> kept name, where --classes renamed one */
  renamed: [string, string][];
  /** classes left out by --classes, with their image counts */
  dropped: { name: string; images: number }[];
  /** whether samples carry patient groups */
  grouped: boolean;
}

/**
 * torchvision-style ImageFolder with splits: `root/<split>/<class>/…` (split folders matched by
 * alias, any case), `root/<class>/…` (split here, seeded and stratified), or a CSV manifest.
 * Class indices follow sorted class names.
 */
export class ImageFolder {
  constructor(
    readonly root: string,
    readonly classes: string[],
    readonly splits: Record<SplitName, Sample[]>,
    /** files that failed verification under onBadImage 'skip' */
    readonly skipped: SkippedFile[],
    readonly info: FolderInfo,
  ) {}

  get splitSource(): FolderInfo['splitSource'] {
    return this.info.splitSource;
  }

  /** Non-image files passed over. */
  get ignored(): string[] {
    return this.info.ignored;
  }

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

  /** Distinct groups per split (all zero without groups). */
  groupCounts(): Record<SplitName, number> {
    const out = {} as Record<SplitName, number>;
    for (const s of SPLITS) out[s] = new Set(this.splits[s].flatMap((x) => (x.group === undefined ? [] : [x.group]))).size;
    return out;
  }

  summary(): string {
    const c = this.counts();
    const info = this.info;
    const w = Math.max(5, ...this.classes.map((k) => k.length));
    const found = SPLITS.flatMap((s) => {
      const f = info.splitFolders[s];
      return f === undefined ? [] : [f === s ? s : `${f}→${s}`];
    });
    const by = info.grouped ? ' by group' : '';
    const how =
      info.splitSource === 'folders' ? `split folders ${found.join(', ')}` : info.splitSource === 'manifest' ? 'manifest splits' : `seeded split${by}`;
    const carved = info.carved.length && info.splitSource !== 'seeded' ? `; ${info.carved.join(', ')} carved from train${by}` : '';
    const lines = [`ImageFolder ${this.root} (${how}${carved}), classes: ${this.classes.map((k, i) => `${i}=${k}`).join(', ')}`];
    lines.push(`  ${'split'.padEnd(6)} ${this.classes.map((k) => k.padStart(w)).join(' ')} ${'total'.padStart(w)}`);
    for (const s of SPLITS) {
      const row = this.classes.map((k) => String(c[s][k]).padStart(w));
      lines.push(`  ${s.padEnd(6)} ${row.join(' ')} ${String(this.splits[s].length).padStart(w)}`);
    }
    if (info.grouped) {
      const g = this.groupCounts();
      lines.push(`  groups (patients): ${SPLITS.map((s) => `${s} ${g[s]}`).join(', ')}`);
    }
    if (info.renamed.length) lines.push(`  classes renamed: ${info.renamed.map(([a, b]) => `${a}→${b}`).join(', ')}`);
    if (info.dropped.length) lines.push(`  left out by --classes: ${info.dropped.map((d) => `${d.name} (${d.images} images)`).join(', ')}`);
    const rel = (f: string) => path.relative(this.root, f) || f;
    if (info.ignoredFolders.length) {
      const files = info.ignoredFolders.reduce((n, f) => n + f.files, 0);
      const names = info.ignoredFolders.slice(0, 4).map((f) => rel(f.dir));
      lines.push(
        `  ignored ${info.ignoredFolders.length} folder(s) that are not classes or images (${files} files): ${names.join(', ')}${info.ignoredFolders.length > 4 ? ', …' : ''}`,
      );
    }
    if (info.ignored.length) lines.push(`  ignored ${info.ignored.length} non-image file(s), e.g. ${rel(info.ignored[0])}`);
    if (this.skipped.length) lines.push(`  skipped ${this.skipped.length} bad file(s)`);
    return lines.join('\n');
  }
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

interface Labelled {
  file: string;
  cls: string;
  split?: SplitName;
  group?: string;
}

/** Checks every file's header; bad ones throw or are skipped per onBadImage. */
async function verifyAll(labelled: Labelled[], opts: LoadOptions): Promise<{ kept: Labelled[]; skipped: SkippedFile[] }> {
  const skipped: SkippedFile[] = [];
  if ((opts.verify ?? 'header') !== 'header') return { kept: labelled, skipped };
  const bad = new Set<string>();
  // modest concurrency: enough to hide file-open latency, not enough to exhaust descriptors
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < labelled.length) {
        const { file: f, split } = labelled[next++];
        try {
          await verifyHeader(f);
        } catch (e) {
          const reason = e instanceof ImageDecodeError ? e.reason : (e as Error).message;
          if ((opts.onBadImage ?? 'error') === 'error') throw e instanceof ImageDecodeError ? e : new ImageDecodeError(f, reason);
          if (!bad.has(f)) skipped.push(split ? { file: f, reason, split } : { file: f, reason });
          bad.add(f);
        }
      }
    }),
  );
  skipped.sort((a, b) => a.file.localeCompare(b.file));
  return { kept: labelled.filter((x) => !bad.has(x.file)), skipped };
}

/** Split folders or manifest rows -> labelled files, plus what was found and passed over. */
async function discover(root: string, opts: LoadOptions): Promise<{ labelled: Labelled[]; info: FolderInfo; source: string }> {
  const info: FolderInfo = { splitSource: 'seeded', splitFolders: {}, carved: [], ignored: [], ignoredFolders: [], renamed: [], dropped: [], grouped: false };
  if (opts.manifest) {
    const m = await readManifest(path.resolve(root, opts.manifest));
    info.splitSource = m.hasSplit ? 'manifest' : 'seeded';
    info.grouped = m.hasGroup;
    return { labelled: m.rows.map((r) => ({ file: r.file, cls: r.label, split: r.split, group: r.group })), info, source: `manifest ${m.csvPath}` };
  }
  const layout = await scanLayout(root);
  info.ignored = layout.ignored.files;
  info.ignoredFolders = layout.ignored.folders;
  info.splitFolders = layout.splitFolders;
  info.splitSource = layout.kind === 'splits' ? 'folders' : 'seeded';
  const labelled: Labelled[] = [];
  for (const [split, classes] of Object.entries(layout.images) as [SplitName, Map<string, string[]>][]) {
    for (const [cls, files] of classes) for (const file of files) labelled.push({ file, cls, split: layout.kind === 'splits' ? split : undefined });
  }
  return { labelled, info, source: root };
}

function applyClassSelection(labelled: Labelled[], info: FolderInfo, spec: LoadOptions['classes'], source: string): Labelled[] {
  if (spec === undefined) return labelled;
  const picks = typeof spec === 'string' ? parseClassSelection(spec) : spec;
  const found = [...new Set(labelled.map((x) => x.cls))].sort();
  const { rename, dropped } = resolveClassSelection(picks, found, source);
  info.renamed = [...rename].filter(([a, b]) => a !== b);
  info.dropped = dropped.map((name) => ({ name, images: labelled.filter((x) => x.cls === name).length }));
  return labelled.filter((x) => rename.has(x.cls)).map((x) => ({ ...x, cls: rename.get(x.cls)! }));
}

/** Groups given with explicit splits: a patient in two splits is a leak worth a loud warning. */
function groupsInSeveralSplits(labelled: Labelled[]): string[] {
  const where = new Map<string, Set<SplitName>>();
  for (const x of labelled) if (x.group !== undefined && x.split) (where.get(x.group) ?? where.set(x.group, new Set()).get(x.group)!).add(x.split);
  return [...where].filter(([, s]) => s.size > 1).map(([g]) => g);
}

export async function loadImageFolder(root: string, opts: LoadOptions = {}): Promise<ImageFolder> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const seed = opts.seed ?? 0;
  const valFraction = opts.valFraction ?? DEFAULT_VAL_FRACTION;
  if (!(valFraction > 0 && valFraction < 1)) throw new Error(`--val-fraction ${valFraction}: use a number between 0 and 1, e.g. 0.15`);
  root = path.resolve(root);
  if (
    !opts.manifest &&
    !(await stat(root).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  )
    throw new Error(`${root}: no such folder`);
  const found = await discover(root, opts);
  const { info, source } = found;
  let labelled = applyClassSelection(found.labelled, info, opts.classes, source);
  if (!labelled.length) {
    throw new Error(`no images (*.png, *.jpg, *.jpeg) found under ${root}; expected root/<split>/<class>/…, root/<class>/… or root/<class>/images/…`);
  }
  const verified = await verifyAll(labelled, opts);
  labelled = verified.kept;
  const skipped = verified.skipped;

  const classes = [...new Set(labelled.map((x) => x.cls))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const grouped = info.grouped;
  const cut = (items: Labelled[], fractions: SplitFractions) =>
    grouped
      ? groupedStratifiedSplit(
          items,
          (x) => x.cls,
          (x) => x.group!,
          seed,
          fractions,
        )
      : stratifiedSplit(items, (x) => x.cls, seed, fractions);
  const parts: Record<SplitName, Labelled[]> = { train: [], val: [], test: [] };
  if (info.splitSource === 'seeded') {
    const fractions = opts.fractions ?? { train: 1 - valFraction - DEFAULT_TEST_FRACTION, val: valFraction, test: DEFAULT_TEST_FRACTION };
    Object.assign(parts, cut(labelled, fractions));
    info.carved = [...SPLITS];
  } else {
    for (const x of labelled) parts[x.split!].push(x);
    const leaks = grouped ? groupsInSeveralSplits(labelled) : [];
    if (leaks.length)
      warn(
        `!! ${leaks.length} group(s) appear in more than one split of ${source} (e.g. '${leaks[0]}'): the same patient in train and test inflates the test score; drop the 'split' column to split by group`,
      );
    // train + test without validation (or train alone from folders): validation comes out of train
    const carve = parts.val.length === 0 && parts.train.length > 0 && (parts.test.length > 0 || info.splitSource === 'folders');
    if (carve) {
      const c = cut(parts.train, { train: 1 - valFraction, val: valFraction, test: 0 });
      parts.train = c.train;
      parts.val = c.val;
      info.carved = ['val'];
    }
  }
  if (grouped) {
    const need = info.carved.filter((s) => parts[s].length === 0 && (s !== 'test' || !opts.fractions || opts.fractions.test > 0));
    if (need.length) {
      const groups = new Set(labelled.map((x) => x.group)).size;
      throw new Error(
        `${source}: ${groups} group(s) cannot fill the ${need.join(' and ')} split(s) without putting one patient in two splits; add patients, or give a 'split' column`,
      );
    }
  }
  const splits: Record<SplitName, Sample[]> = { train: [], val: [], test: [] };
  for (const s of SPLITS) splits[s] = parts[s].map((x) => ({ file: x.file, label: index.get(x.cls)!, ...(x.group !== undefined ? { group: x.group } : {}) }));
  const folder = new ImageFolder(root, classes, splits, skipped, info);
  log(folder.summary());
  if (skipped.length) warn(`skipped ${skipped.length} bad image(s):\n${skipped.map((s) => `  ${s.file}: ${s.reason}`).join('\n')}`);
  return folder;
}
