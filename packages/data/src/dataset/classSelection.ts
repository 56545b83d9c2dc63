/**
 * `--classes`: which class folders (or manifest labels) to keep and what to call them.
 * `COVID=infected,Normal=normal` keeps two folders under new names; `covid-19,normal,pneumonia`
 * keeps three as they are; `Viral Pneumonia=pneumonia,Bacterial=pneumonia` merges two into one.
 * Folder names match exactly, or else case-insensitively when that is unambiguous.
 */

export interface ClassPick {
  /** Folder name or manifest label as written by the user. */
  source: string;
  /** Class name used for training, metrics and the model file. */
  name: string;
}

export function parseClassSelection(spec: string): ClassPick[] {
  const picks = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const eq = entry.indexOf('=');
      const source = (eq < 0 ? entry : entry.slice(0, eq)).trim();
      const name = (eq < 0 ? entry : entry.slice(eq + 1)).trim();
      if (!source || !name) throw new Error(`--classes '${spec}': '${entry}' needs a name on both sides of '=' (e.g. COVID=infected)`);
      return { source, name };
    });
  if (picks.length === 0) throw new Error(`--classes '${spec}': no class names; e.g. --classes COVID=infected,Normal=normal`);
  const seen = new Set<string>();
  for (const p of picks) {
    if (seen.has(p.source)) throw new Error(`--classes '${spec}': '${p.source}' is named twice`);
    seen.add(p.source);
  }
  if (new Set(picks.map((p) => p.name)).size < 2) throw new Error(`--classes '${spec}': keeps fewer than 2 classes; a classifier needs at least 2`);
  return picks;
}

export interface ClassMapping {
  /** Found name -> kept class name (names not in the map are dropped). */
  rename: Map<string, string>;
  /** Found names that --classes leaves out. */
  dropped: string[];
}

/**
 * Matches the picks against the names found on disk or in the manifest. A pick that matches
 * nothing is an error listing what was found, so a typo cannot silently drop a class.
 */
export function resolveClassSelection(picks: readonly ClassPick[], found: readonly string[], where: string): ClassMapping {
  const rename = new Map<string, string>();
  const list = () => found.map((f) => `'${f}'`).join(', ');
  for (const p of picks) {
    let match = found.find((f) => f === p.source);
    if (match === undefined) {
      const ci = found.filter((f) => f.toLowerCase() === p.source.toLowerCase());
      if (ci.length > 1) throw new Error(`--classes: '${p.source}' matches ${ci.map((f) => `'${f}'`).join(' and ')} in ${where}; write the exact name`);
      match = ci[0];
    }
    if (match === undefined) throw new Error(`--classes: no class '${p.source}' in ${where}; found ${list() || 'none'}`);
    if (rename.has(match)) throw new Error(`--classes: '${match}' is picked twice`);
    rename.set(match, p.name);
  }
  return { rename, dropped: found.filter((f) => !rename.has(f)) };
}
