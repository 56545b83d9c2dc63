/**
 * A researcher's own experiment grid (`cxr experiments run --grid FILE.yaml`): the same keys as
 * `cxr train` (flag or camelCase spelling). A list value varies: all lists expand as a product.
 * An optional `runs:` list adds named variants, each merged over the top-level values (lists
 * inside a variant expand too). Runs are named after the values that vary, e.g.
 * `vgg16_lr-1e-3`, unless a variant gives its own `name`.
 *
 *   data: /data/covid-radiography
 *   classes: COVID=infected,Normal=normal
 *   arch: [vgg16, resnet18]
 *   lr: [1e-3, 1e-4]
 *   epochs: 10
 */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../config/configError.ts';
import { parseConfigText } from '../config/configFile.ts';
import type { TrainConfig, TrainConfigKey } from '../config/trainConfig.ts';
import { formatLr } from '../report/comparisonTable.ts';
import type { ExperimentRun } from './seedStudy.ts';

export interface ExperimentGrid {
  /** Title for the report: the file's `name`, else its base name. */
  name: string;
  runs: ExperimentRun[];
}

/** Keys of a grid file that are not train options. */
const gridOnlyKeys = ['name', 'runs'];

type Values = Partial<Record<TrainConfigKey, unknown>>;

function product(values: Record<string, unknown>): Record<string, unknown>[] {
  let combos: Record<string, unknown>[] = [{}];
  for (const [key, value] of Object.entries(values)) {
    const choices = Array.isArray(value) ? value : [value];
    if (choices.length === 0) throw new ConfigError(`grid key '${key}' is an empty list; give at least one value`);
    combos = combos.flatMap((c) => choices.map((v) => ({ ...c, [key]: v })));
  }
  return combos;
}

function formatValue(key: string, value: unknown): string {
  if (key === 'lr' && typeof value === 'number') return formatLr(value);
  return String(value);
}

/** 'arch' stands alone (vgg16); other keys as key-value (lr-1e-3, weight-decay-1e-4). */
function autoName(values: Record<string, unknown>, varying: readonly string[]): string {
  const parts = varying
    .filter((k) => values[k] !== undefined)
    .map((k) => (k === 'arch' ? formatValue(k, values[k]) : `${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}-${formatValue(k, values[k])}`));
  return (parts.join('_') || 'run').replace(/[^A-Za-z0-9._-]+/g, '-');
}

function describe(values: Record<string, unknown>, varying: readonly string[]): string {
  return (
    varying
      .filter((k) => values[k] !== undefined)
      .map((k) => `${k} ${formatValue(k, values[k])}`)
      .join(', ') || 'single run'
  );
}

/**
 * A run's name is its folder under --out (OUT/NAME). A variant's own `name` is used as written, so
 * "../other" trained into a folder outside --out (another grid's, say), "" or "." into the grid's
 * root itself, and "a/b" into a nested folder that report does not look for. Only a plain folder
 * name is accepted.
 */
function checkRunName(name: string, source: string): void {
  if (name.trim() === '' || name === '.' || name === '..' || /[/\\]/.test(name) || name.startsWith('.'))
    throw new ConfigError(
      `grid file ${source}: run name '${name}' is not a plain folder name; each run trains in --out/NAME, so use letters, digits, '-', '_' and '.' (not first), without '/'`,
    );
}

/** Turns a parsed grid document into runs; `source` names the file in errors. */
export function expandGrid(doc: unknown, source: string): ExperimentGrid {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`grid file ${source} must hold a mapping of train options, e.g. "arch: [vgg16, resnet18]"`);
  }
  const raw = doc as Record<string, unknown>;
  const top: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (!gridOnlyKeys.includes(k)) top[k] = v;
  // Key names and spellings are checked by the config-file reader (lists pass through as values).
  const base = parseConfigText(JSON.stringify(top), source) as Values;
  for (const key of ['out', 'resume', 'force'] as const) {
    if (base[key] !== undefined)
      throw new ConfigError(`grid file ${source}: '${key}' is set per run by experiments run; remove it (use --out for the root folder)`);
  }
  const variantsRaw = raw.runs === undefined ? [{}] : raw.runs;
  if (!Array.isArray(variantsRaw) || variantsRaw.length === 0) throw new ConfigError(`grid file ${source}: 'runs' must be a non-empty list of mappings`);
  const expanded: { values: Record<string, unknown>; name?: string; variant: number }[] = [];
  for (const [i, v] of variantsRaw.entries()) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`grid file ${source}: runs[${i}] must be a mapping of train options`);
    const { name, ...rest } = v as Record<string, unknown>;
    const own = parseConfigText(JSON.stringify(rest), source) as Values;
    const combos = product({ ...base, ...own });
    combos.forEach((values) => expanded.push({ values, name: name === undefined ? undefined : String(name), variant: i }));
  }
  const keys = [...new Set(expanded.flatMap((e) => Object.keys(e.values)))];
  const varyingIn = (list: typeof expanded) => keys.filter((k) => new Set(list.map((e) => JSON.stringify(e.values[k]))).size > 1);
  const varying = varyingIn(expanded);
  const named = (e: (typeof expanded)[number]) => {
    const siblings = expanded.filter((x) => x.variant === e.variant);
    return siblings.length > 1 ? `${e.name}_${autoName(e.values, varyingIn(siblings))}` : e.name!;
  };
  const runs: ExperimentRun[] = expanded.map((e) => ({
    // A named variant that expands to several runs keeps its name as a prefix: frozen_vgg16_lr-1e-3.
    name: e.name === undefined ? autoName(e.values, varying) : named(e),
    description: describe(e.values, varying),
    options: e.values as Partial<TrainConfig>,
  }));
  const seen = new Map<string, string>();
  for (const r of runs) {
    checkRunName(r.name, source);
    // Folder names: Run1 and run1 are one folder on macOS and Windows file systems.
    const key = r.name.toLowerCase();
    const other = seen.get(key);
    if (other !== undefined)
      throw new ConfigError(
        other === r.name
          ? `grid file ${source}: two runs are named '${r.name}'; give each variant its own name`
          : `grid file ${source}: runs '${other}' and '${r.name}' differ only in case, which is one folder on case-insensitive file systems; give each variant its own name`,
      );
    seen.set(key, r.name);
  }
  const title = typeof raw.name === 'string' && raw.name.trim() ? raw.name.trim() : basename(source, extname(source));
  return { name: title, runs };
}

export function loadGridFile(path: string): ExperimentGrid {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`grid file ${path} not found or unreadable; check the --grid path`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`cannot parse grid file ${path}: ${String((e as Error).message).split('\n')[0]}`);
  }
  return expandGrid(doc, path);
}
