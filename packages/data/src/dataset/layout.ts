/**
 * How researchers lay out image folders, as found on disk: split folders under any of their usual
 * names and capitalisations (`Train/`, `validation/`, `TESTING/`), class folders that hold their
 * images directly or below them (`COVID/images/*.png`, the Kaggle COVID-19 Radiography layout),
 * and beside them masks, label folders and stray files that must never become training images.
 * Everything skipped is recorded, so the start-up summary can say what was left out.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import path from 'node:path';
import type { SplitName } from './split.ts';

/** Folder names (lower-cased) that mean a split. */
export const SPLIT_ALIASES: Record<SplitName, readonly string[]> = {
  train: ['train', 'training'],
  val: ['val', 'valid', 'validation', 'dev'],
  test: ['test', 'testing'],
};

/**
 * Folders of segmentation masks or annotations that sit beside the images; never images to train on.
 * Mask and annotation folders are matched as a word anywhere in the name, because real sets qualify
 * them (COVID-QU-Ex: `lung masks`, `infection masks`; others `infection_masks`, `Lung-Masks`).
 * `label(s)` must be the whole name: "labelled" or a class called "unlabeled" are images.
 */
export const IGNORED_FOLDER = /^labels?$|(^|[^a-z0-9])(masks?|annotations?)($|[^a-z0-9])/i;

export const IMAGE_EXT = /\.(png|jpe?g)$/i;

export function splitOfFolder(name: string): SplitName | undefined {
  const lower = name.toLowerCase();
  for (const [split, aliases] of Object.entries(SPLIT_ALIASES) as [SplitName, readonly string[]][]) if (aliases.includes(lower)) return split;
  return undefined;
}

/** What was passed over, for the summary: mask/annotation folders (with their file counts) and non-image files. */
export interface IgnoredEntries {
  /** Folders skipped whole, e.g. `COVID/masks`, with how many files they held. */
  folders: { dir: string; files: number }[];
  /** Files that are not PNG or JPEG (README, metadata spreadsheets, .DS_Store). */
  files: string[];
}

export interface ScannedLayout {
  /** 'splits' when the root holds split folders, else 'flat' (root/<class>/…). */
  kind: 'splits' | 'flat';
  /** The split folders found, e.g. { train: 'Train', val: 'Validation' }. */
  splitFolders: Partial<Record<SplitName, string>>;
  /** Image files per split (flat layouts use 'train' as the single pool) and class folder name. */
  images: Partial<Record<SplitName, Map<string, string[]>>>;
  ignored: IgnoredEntries;
}

/**
 * What an entry is, following symbolic links: a symlinked class folder or image is used like the
 * real thing (they used to be dropped silently: a 3-class set trained as 2). A dangling link is
 * 'other' and lands in the ignored list.
 */
async function kindOf(dir: string, e: Dirent): Promise<'dir' | 'file' | 'other'> {
  if (e.isDirectory()) return 'dir';
  if (e.isFile()) return 'file';
  if (!e.isSymbolicLink()) return 'other';
  try {
    const s = await stat(path.join(dir, e.name));
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
  } catch {
    return 'other';
  }
}

/** Whether `inner` is `outer` or below it (real paths). */
function isInside(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(path.sep) ? outer : outer + path.sep);
}

async function countFiles(dir: string, seen = new Set<string>()): Promise<number> {
  const real = await realpath(dir);
  if (seen.has(real)) return 0;
  seen.add(real);
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if ((await kindOf(dir, e)) === 'dir') n += await countFiles(path.join(dir, e.name), seen);
    else n++;
  }
  return n;
}

/** All images below a class folder, at any depth, skipping mask/annotation folders. */
async function collectImages(dir: string, out: string[], ignored: IgnoredEntries, seen = new Set<string>()): Promise<void> {
  // Real paths already walked: a symlink loop (a -> ..) must not recurse forever.
  const real = await realpath(dir);
  if (seen.has(real)) return;
  seen.add(real);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    const kind = await kindOf(dir, e);
    if (kind === 'dir' && e.isSymbolicLink() && isInside(real, await realpath(full))) {
      ignored.files.push(full); // a link back up the tree: following it would take in other classes
    } else if (kind === 'dir') {
      if (IGNORED_FOLDER.test(e.name)) ignored.folders.push({ dir: full, files: await countFiles(full) });
      else await collectImages(full, out, ignored, seen);
    } else if (kind === 'file' && IMAGE_EXT.test(e.name)) out.push(full);
    else ignored.files.push(full);
  }
}

/** Class folders directly under `dir` (one level), each with its images sorted by path. */
async function scanClasses(dir: string, ignored: IgnoredEntries): Promise<Map<string, string[]>> {
  const classes = new Map<string, string[]>();
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if ((await kindOf(dir, e)) !== 'dir') {
      ignored.files.push(full);
      continue;
    }
    if (IGNORED_FOLDER.test(e.name)) {
      ignored.folders.push({ dir: full, files: await countFiles(full) });
      continue;
    }
    const files: string[] = [];
    await collectImages(full, files, ignored);
    files.sort();
    classes.set(e.name, files);
  }
  return classes;
}

/**
 * Reads the folder structure under `root`. Two folders naming the same split (`val/` and
 * `validation/`) are an error rather than a silent pick; other folders beside split folders are
 * ignored and listed.
 */
export async function scanLayout(root: string): Promise<ScannedLayout> {
  const ignored: IgnoredEntries = { folders: [], files: [] };
  const entries = await readdir(root, { withFileTypes: true });
  const splitFolders: Partial<Record<SplitName, string>> = {};
  for (const e of entries) {
    if ((await kindOf(root, e)) !== 'dir') continue;
    const split = splitOfFolder(e.name);
    if (!split) continue;
    if (splitFolders[split])
      throw new Error(`${root}: both '${splitFolders[split]}' and '${e.name}' look like the ${split} split; keep one (or rename the other)`);
    splitFolders[split] = e.name;
  }
  const images: ScannedLayout['images'] = {};
  if (Object.keys(splitFolders).length === 0) {
    images.train = await scanClasses(root, ignored);
    return { kind: 'flat', splitFolders, images, ignored };
  }
  const splitNames = new Set(Object.values(splitFolders));
  for (const e of entries) {
    if (splitNames.has(e.name)) continue;
    const full = path.join(root, e.name);
    if ((await kindOf(root, e)) === 'dir') ignored.folders.push({ dir: full, files: await countFiles(full) });
    else ignored.files.push(full);
  }
  for (const [split, name] of Object.entries(splitFolders) as [SplitName, string][]) images[split] = await scanClasses(path.join(root, name), ignored);
  return { kind: 'splits', splitFolders, images, ignored };
}
