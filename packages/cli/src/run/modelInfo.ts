/**
 * What a model file says about itself, for `eval`, `predict` and `serve`: the `cxr.*` safetensors
 * metadata `train` writes (see ModelInfo in @cxr/models: arch, head, classes, positive class, input
 * size, resize rule, normalisation). Files written by CXR builds of 30 Nov 2026 before those keys
 * carried unprefixed arch/head/image_size/classes; they are read too.
 */
import { existsSync } from 'node:fs';
import { decodeModelInfo, isSafetensors, openSafetensors, type ModelInfo } from '@cxr/models';

export type { ModelInfo };

/**
 * The info a CXR model file carries; fields it lacks (a foreign or older file) are absent. A torch
 * file records nothing; a safetensors file that cannot be read (truncated, corrupt) throws its
 * read error, which names the file: "has no metadata" would send the user after the wrong fix.
 */
export function readModelInfo(path: string): Partial<ModelInfo> {
  if (!existsSync(path) || !isSafetensors(path)) return {};
  const f = openSafetensors(path);
  f.close();
  const metadata = f.metadata;
  const full = decodeModelInfo(metadata, path);
  if (full) return full;
  const info: Partial<ModelInfo> = {};
  if (metadata.arch) info.arch = metadata.arch;
  if (metadata.head) info.head = metadata.head;
  const size = Number(metadata.image_size);
  if (Number.isInteger(size) && size > 0) info.inputSize = size;
  try {
    const classes = JSON.parse(metadata.classes ?? 'null');
    if (Array.isArray(classes) && classes.every((c) => typeof c === 'string')) info.classes = classes;
  } catch {
    // unreadable list: treated as absent
  }
  return info;
}

/**
 * The data's classes (sorted names) -> the model's output indices, by name (exact, else
 * case-insensitive). A data class the model was not trained on is refused: the metrics would
 * compare the wrong labels. Returns, per data class index, the model's index.
 */
export function classIndexMap(model: readonly string[], data: readonly string[], where: { model: string; data: string }): number[] {
  const index = data.map((c) => {
    const i = model.indexOf(c);
    return i >= 0 ? i : model.findIndex((m) => m.toLowerCase() === c.toLowerCase());
  });
  if (index.every((i) => i >= 0)) return index;
  const rename = data
    .filter((_, i) => index[i] < 0)
    .map((c, i) => `${c}=${model[i] ?? model[0]}`)
    .join(',');
  throw new Error(
    `class names differ: ${where.model} was trained on [${model.join(', ')}] but ${where.data} has [${data.join(', ')}]; metrics would compare the wrong labels (rename or pick the data's classes with --classes, e.g. --classes ${rename})`,
  );
}
