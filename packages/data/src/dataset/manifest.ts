/**
 * CSV manifest: a header row with `path` and `label`, optionally `split` (any of the split folder
 * aliases, e.g. train/validation/test) and `group` (patient id: all images of one group stay in
 * one split). Paths are relative to the CSV. Every problem names the file and the line.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCsv } from './csv.ts';
import { splitOfFolder } from './layout.ts';
import type { SplitName } from './split.ts';

export interface ManifestRow {
  file: string;
  label: string;
  split?: SplitName;
  group?: string;
  /** 1-based line in the CSV (the header is line 1). */
  line: number;
}

export interface Manifest {
  csvPath: string;
  rows: ManifestRow[];
  hasSplit: boolean;
  hasGroup: boolean;
}

export async function readManifest(csvPath: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(csvPath, 'utf8');
  } catch {
    throw new Error(`manifest ${csvPath}: cannot read the file; check the --manifest path`);
  }
  const table = parseCsv(text);
  const head = table.shift()?.map((h) => h.trim().toLowerCase()) ?? [];
  const col = (name: string) => head.indexOf(name);
  const [ip, il, is, ig] = [col('path'), col('label'), col('split'), col('group')];
  if (ip < 0 || il < 0)
    throw new Error(`manifest ${csvPath}: needs a header with 'path' and 'label' columns (optional 'split', 'group'), got '${head.join(',')}'`);
  const base = path.dirname(csvPath);
  // by resolved path, so `img/a.png` and `./img/a.png` are one image: listed twice, it could land in two splits
  const firstLine = new Map<string, number>();
  const rows = table.map((r, i): ManifestRow => {
    const line = i + 2;
    const where = `manifest ${csvPath} line ${line}`;
    const rel = r[ip]?.trim();
    const label = r[il]?.trim();
    if (!rel || !label) throw new Error(`${where}: empty path or label`);
    const file = path.resolve(base, rel);
    const earlier = firstLine.get(file);
    if (earlier !== undefined) throw new Error(`${where}: image '${rel}' is already listed on line ${earlier}; list each image once`);
    firstLine.set(file, line);
    if (!existsSync(file)) throw new Error(`${where}: image '${rel}' not found (looked for ${file})`);
    const splitText = is >= 0 ? r[is]?.trim() : '';
    let split: SplitName | undefined;
    if (splitText) {
      split = splitOfFolder(splitText);
      if (!split) throw new Error(`${where}: split '${splitText}' is not train, val or test`);
    }
    const group = ig >= 0 ? r[ig]?.trim() : undefined;
    if (ig >= 0 && !group) throw new Error(`${where}: empty group; every row needs its patient id when the 'group' column is present`);
    return { file, label, split, group, line };
  });
  const withSplit = rows.filter((x) => x.split).length;
  if (withSplit !== 0 && withSplit !== rows.length)
    throw new Error(`manifest ${csvPath}: 'split' is set on ${withSplit} of ${rows.length} rows; set it on all or none`);
  return { csvPath, rows, hasSplit: withSplit > 0, hasGroup: ig >= 0 };
}
