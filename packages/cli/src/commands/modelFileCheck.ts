// The model file of --model / --weights, checked before anything reads it. A folder used to end in
// a bare "EISDIR: illegal operation on a directory, read" that names nothing, and an image or other
// non-model file given as --model was reported as "has no CXR metadata; describe it with --weights
// … --arch …", which sends the user after flags that cannot help.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { detectTorchFormat, isSafetensors } from '@cxr/models';

export function checkModelFile(flag: '--model' | '--weights', path: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new Error(`${flag} ${path}: no such file`);
  }
  if (!isFile) throw new Error(`${flag} ${path}: not a file (a folder?); give the model's .safetensors file, or --run DIR for a run folder`);
  if (isSafetensors(path)) return;
  const head = Buffer.alloc(262);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (detectTorchFormat(head.subarray(0, n)) === undefined)
    throw new Error(
      `${flag} ${path}: not a model file (neither safetensors nor a PyTorch checkpoint; it starts ${[...head.subarray(0, Math.min(n, 8))].map((b) => b.toString(16).padStart(2, '0')).join(' ') || 'empty'})`,
    );
}
