// Image arguments of `predict` and `explain`: only regular files are read. A folder given by
// mistake (or a FIFO/device, which would block or never end) gets a one-line error that names it,
// instead of Node's bare "EISDIR: illegal operation on a directory, read", which names nothing.
import { readFileSync, statSync, type Stats } from 'node:fs';

/** Why `file` cannot be read as an image, or null when it is a regular file. */
export function imageFileProblem(file: string): string | null {
  let st: Stats;
  try {
    st = statSync(file);
  } catch {
    return `${file}: no such file`;
  }
  if (!st.isFile()) return `${file}: not a regular file (a folder, FIFO or device); give image files`;
  return null;
}

/** Reads an image file; throws the one-line problem for anything but a regular file. */
export function readImageFile(file: string): Uint8Array {
  const problem = imageFileProblem(file);
  if (problem) throw new Error(problem);
  return new Uint8Array(readFileSync(file));
}
