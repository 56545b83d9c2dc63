// The one file a command writes at a path the user names (`data audit --out`, `weights convert
// <out>`), checked before the work starts: an existing file (an earlier result, a run's model) was
// replaced without a word, and a folder or a missing parent folder surfaced only after the work as
// a raw EISDIR/ENOENT. Refused, in one line, unless --force replaces an existing file.
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export function checkOutputFile(command: string, label: string, path: string, force: boolean | undefined, example: string): void {
  if (existsSync(path)) {
    if (statSync(path).isDirectory()) throw new Error(`${command}: ${label} ${path} is a folder; give a file name such as ${example}`);
    if (!force) throw new Error(`${command}: ${label} ${path} already exists; pass --force to replace it, or give another ${label}`);
  }
  if (!existsSync(dirname(path))) throw new Error(`${command}: the folder of ${label} ${path} does not exist; create ${dirname(path)} first`);
}
