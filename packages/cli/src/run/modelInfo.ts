/**
 * What a model file needs to be used correctly, stored in its safetensors metadata by `train`:
 * class names in index order, the input size and the architecture/head. Without them `predict
 * --weights FILE` guessed `infected,normal` and 224 px, whatever the model was trained on.
 */
import { existsSync } from 'node:fs';
import { openSafetensors } from '@cxr/models';

export interface ModelInfo {
  arch: string;
  head: string;
  imageSize: number;
  /** Class names in output-index order. */
  classes: string[];
}

export function modelInfoMetadata(info: ModelInfo): Record<string, string> {
  return { arch: info.arch, head: info.head, image_size: String(info.imageSize), classes: JSON.stringify(info.classes) };
}

/** The info a CXR model file carries; fields it lacks (a foreign or older file) are absent. */
export function readModelInfo(path: string): Partial<ModelInfo> {
  if (!existsSync(path)) return {};
  let metadata: Record<string, string>;
  try {
    const f = openSafetensors(path);
    f.close();
    metadata = f.metadata;
  } catch {
    return {}; // not safetensors (a torch file): nothing recorded
  }
  const info: Partial<ModelInfo> = {};
  if (metadata.arch) info.arch = metadata.arch;
  if (metadata.head) info.head = metadata.head;
  const size = Number(metadata.image_size);
  if (Number.isInteger(size) && size > 0) info.imageSize = size;
  try {
    const classes = JSON.parse(metadata.classes ?? 'null');
    if (Array.isArray(classes) && classes.every((c) => typeof c === 'string')) info.classes = classes;
  } catch {
    // unreadable list: treated as absent
  }
  return info;
}

/** Refuses data whose class folders are not, by name and order, the ones the model was trained on. */
export function checkClassNames(model: string[], data: string[], where: { model: string; data: string }): void {
  if (model.length === data.length && model.every((c, i) => c === data[i])) return;
  throw new Error(`class names differ: ${where.model} was trained on [${model.join(', ')}] but ${where.data} has [${data.join(', ')}]; metrics would compare the wrong labels (use data with the same class folders)`);
}
