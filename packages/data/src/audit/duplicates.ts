/**
 * Exact duplicates (same content hash) and near duplicates (perceptual hashes within
 * `nearDuplicateDistance` bits) among the files of a dataset, each pair tagged with the splits of
 * its two files: a pair across splits is leakage (the model is tested on an image it trained on).
 */
import { hammingDistance, nearDuplicateDistance } from './perceptualHash.ts';

export interface AuditedFile {
  file: string;
  split: string;
  label: string;
  sha256: string;
  phash: string;
}

export interface DuplicatePair {
  kind: 'exact' | 'near';
  a: { file: string; split: string; label: string };
  b: { file: string; split: string; label: string };
  /** Hamming distance of the perceptual hashes (0 for exact copies). */
  distance: number;
  crossSplit: boolean;
}

export function findDuplicates(files: readonly AuditedFile[], maxDistance = nearDuplicateDistance): DuplicatePair[] {
  const pairs: DuplicatePair[] = [];
  const side = (f: AuditedFile) => ({ file: f.file, split: f.split, label: f.label });
  const hashes = files.map((f) => Uint8Array.from(Buffer.from(f.phash, 'hex')));
  for (let i = 0; i < files.length; i++) {
    for (let j = i + 1; j < files.length; j++) {
      const exact = files[i].sha256 === files[j].sha256;
      const distance = exact ? 0 : hammingDistance(hashes[i], hashes[j]);
      if (!exact && distance > maxDistance) continue;
      pairs.push({ kind: exact ? 'exact' : 'near', a: side(files[i]), b: side(files[j]), distance, crossSplit: files[i].split !== files[j].split });
    }
  }
  return pairs;
}

export interface GroupOverlap {
  group: string;
  /** Split -> number of that group's images there. */
  splits: Record<string, number>;
}

/** Patient groups (from a manifest) that appear in more than one split. */
export function patientOverlap(files: readonly { split: string; group?: string }[]): GroupOverlap[] {
  const by = new Map<string, Record<string, number>>();
  for (const f of files) {
    if (f.group === undefined) continue;
    const s = by.get(f.group) ?? {};
    s[f.split] = (s[f.split] ?? 0) + 1;
    by.set(f.group, s);
  }
  return [...by.entries()]
    .filter(([, s]) => Object.keys(s).length > 1)
    .map(([group, splits]) => ({ group, splits }))
    .sort((a, b) => a.group.localeCompare(b.group));
}
