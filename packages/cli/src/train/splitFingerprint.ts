/**
 * What a checkpoint remembers of the data it trained on: per split, how many images and a digest
 * of which (path under the data folder, class). The splits are drawn again on every start, so a
 * data folder that gained, lost or renamed files since the checkpoint reshuffles them: images the
 * model trained on can land in validation or test, and a resumed run would select and report on
 * data it has seen. A resume compares the two and stops instead.
 */
import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import type { ImageFolder, SplitName } from '@cxr/data';

export type SplitFingerprint = Record<SplitName, { images: number; sha256: string }>;

const splitNames: readonly SplitName[] = ['train', 'val', 'test'];

export function splitFingerprint(folder: ImageFolder, dataRoot: string): SplitFingerprint {
  const out = {} as SplitFingerprint;
  for (const split of splitNames) {
    // Relative paths: the same collection mounted elsewhere is the same data.
    const lines = folder.splits[split].map((s) => `${relative(dataRoot, s.file)}\0${folder.classes[s.label]}`).sort();
    out[split] = { images: lines.length, sha256: createHash('sha256').update(lines.join('\n')).digest('hex') };
  }
  return out;
}

/** One line naming the splits that differ (images then -> now), or null when all agree. */
export function splitChanges(recorded: SplitFingerprint, now: SplitFingerprint): string | null {
  const changed = splitNames
    .filter((s) => recorded[s]?.sha256 !== now[s].sha256)
    .map((s) => {
      const before = recorded[s]?.images ?? 0;
      return before === now[s].images ? `${s}: other images (${now[s].images})` : `${s}: ${before} -> ${now[s].images} images`;
    });
  return changed.length ? changed.join(', ') : null;
}
