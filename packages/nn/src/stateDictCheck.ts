/**
 * The one key/shape comparison between a model's state dict and a source of tensors (another state
 * dict, or a weights file read lazily): Module.loadStateDict and @cxr/models' loadWeights both use it,
 * so a mismatch reads the same wherever it is found and long key lists are capped.
 */
import { formatList } from './formatList.ts';

interface Shaped {
  readonly shape: readonly number[];
}

export interface StateDictComparison {
  missing: string[];
  unexpected: string[];
  /** `key: <source> [shape] vs model [shape]` */
  misshaped: string[];
}

/** `sourceWord` names the other side in mis-shaped lines ("checkpoint", "file"); `skip` hides keys on both sides. */
export function compareStateDicts(
  own: ReadonlyMap<string, Shaped>,
  source: ReadonlyMap<string, Shaped>,
  sourceWord: string,
  skip: (name: string) => boolean = () => false,
): StateDictComparison {
  const missing = [...own.keys()].filter((k) => !source.has(k) && !skip(k));
  const unexpected = [...source.keys()].filter((k) => !own.has(k) && !skip(k));
  const misshaped: string[] = [];
  for (const [k, t] of own) {
    const s = source.get(k);
    if (s && !skip(k) && s.shape.join(',') !== t.shape.join(',')) misshaped.push(`${k}: ${sourceWord} [${s.shape.join(',')}] vs model [${t.shape.join(',')}]`);
  }
  return { missing, unexpected, misshaped };
}

/** The error message for a comparison that fails (mis-shaped keys always; missing/unexpected with `strict`), else null. */
export function stateDictMismatchMessage(heading: string, c: StateDictComparison, strict: boolean): string | null {
  if (!c.misshaped.length && !(strict && (c.missing.length || c.unexpected.length))) return null;
  const parts = [heading];
  if (c.missing.length) parts.push(`  missing keys (${c.missing.length}): ${formatList(c.missing, 20)}`);
  if (c.unexpected.length) parts.push(`  unexpected keys (${c.unexpected.length}): ${formatList(c.unexpected, 20)}`);
  if (c.misshaped.length) parts.push(`  mis-shaped keys (${c.misshaped.length}):\n    ${formatList(c.misshaped, 20).replaceAll(', ', '\n    ')}`);
  return parts.join('\n');
}
