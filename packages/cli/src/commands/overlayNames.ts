// Where `cxr explain` writes each image's overlay: OUT/NAME.gradcam.png. Two inputs with one base
// name (scans/a/x.png and scans/b/x.png, or x.png and x.jpg) used to get the same file, the second
// silently replacing the first while the printout claimed both; and an existing file (a previous
// run's overlay, or the user's own) was replaced without a word. Now the names are distinct
// (x.gradcam.png, x-2.gradcam.png, … in argument order) and existing ones are refused unless
// --force, before any work is done.
import { existsSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { formatList } from '@cxr/nn';

export function overlayPaths(files: readonly string[], out: string): string[] {
  const taken = new Set<string>();
  return files.map((file) => {
    const stem = basename(file, extname(file));
    let name = `${stem}.gradcam.png`;
    for (let k = 2; taken.has(name); k++) name = `${stem}-${k}.gradcam.png`;
    taken.add(name);
    return join(out, name);
  });
}

/** Throws a one-line error listing the overlay files that already exist, unless `force`. */
export function refuseExistingOverlays(paths: readonly string[], out: string, force: boolean | undefined): void {
  if (force) return;
  const existing = paths.filter((p) => existsSync(p));
  if (existing.length)
    throw new Error(
      `explain: ${existing.length} overlay file(s) already exist in ${out} (${formatList(
        existing.map((p) => basename(p)),
        5,
      )}); pass --force to replace them, or choose another --out`,
    );
}
