/**
 * Parsers for single option values, shared by flags and config files (where a value may arrive as
 * a number or a string). Each throws a one-line ConfigError naming the flag and a valid example.
 */
import { existsSync, statSync } from 'node:fs';
import { ConfigError } from './configError.ts';
import { didYouMean } from './closestName.ts';
import { parseHeadSpec, type HeadSpec as ModelHeadSpec } from '@cxr/models';

export type HeadSpec = Exclude<ModelHeadSpec, { kind: 'none' }>;
export type ScheduleSpec = { kind: 'constant' } | { kind: 'cosine' } | { kind: 'step'; every: number; gamma: number };
export type WeightsSpec = { kind: 'imagenet' } | { kind: 'none' } | { kind: 'file'; path: string };

export function parseHead(value: string): HeadSpec {
  const h = (() => {
    try {
      return parseHeadSpec(value);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
  })();
  if (h.kind === 'none') throw new ConfigError(`bad --head '${value}'; use mlp:N with N hidden units (e.g. mlp:530), replace or extend`);
  return h;
}

export function parseSchedule(value: string): ScheduleSpec {
  const v = value.trim();
  if (v === 'constant' || v === 'cosine') return { kind: v };
  const m = /^step:(\d+)(?::([0-9.eE+-]+))?$/.exec(v);
  if (m) {
    const every = Number(m[1]);
    const gamma = m[2] === undefined ? 0.1 : Number(m[2]);
    if (every >= 1 && gamma > 0 && gamma <= 1) return { kind: 'step', every, gamma };
  }
  throw new ConfigError(`bad --schedule '${value}'; use constant, cosine or step:EPOCHS[:GAMMA] (e.g. step:7:0.1)`);
}

/** `exists` is injectable so validation can be tested without touching the filesystem. */
export function parseWeights(value: string, exists: (path: string) => boolean = defaultFileExists): WeightsSpec {
  const v = value.trim();
  if (v === 'imagenet' || v === 'none') return { kind: v };
  if (v === '') throw new ConfigError(`--weights is empty; pass imagenet, none or the path of a weights file`);
  if (!exists(v)) {
    throw new ConfigError(
      `--weights file '${v}' not found; pass imagenet, none or the path of an existing .safetensors file${didYouMean(v, ['imagenet', 'none'])}`,
    );
  }
  return { kind: 'file', path: v };
}

function defaultFileExists(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** Strict number parsing: Number('') is 0 and parseFloat('1e-3x') is 0.001, neither is acceptable here. */
function toNumber(flag: string, value: unknown, example: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
  } else if (typeof value === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(value)) {
    return Number(value);
  }
  throw new ConfigError(`${flag} must be a number such as ${example}, got '${String(value)}'`);
}

export function parsePositiveNumber(flag: string, value: unknown, example: string): number {
  const n = toNumber(flag, value, example);
  if (n <= 0) throw new ConfigError(`${flag} must be a positive number such as ${example}, got '${String(value)}'`);
  return n;
}

export function parseNonNegativeNumber(flag: string, value: unknown, example: string): number {
  const n = toNumber(flag, value, example);
  if (n < 0) throw new ConfigError(`${flag} must be zero or a positive number such as ${example}, got '${String(value)}'`);
  return n;
}

export function parseInteger(flag: string, value: unknown, min: number, max: number, example: string): number {
  const n = toNumber(flag, value, example);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${flag} must be a whole number from ${min} to ${max} (e.g. ${example}), got '${String(value)}'`);
  }
  return n;
}

export function parseChoice<T extends string>(flag: string, value: unknown, choices: readonly T[]): T {
  const v = String(value).trim().toLowerCase();
  if ((choices as readonly string[]).includes(v)) return v as T;
  throw new ConfigError(`unknown ${flag} '${String(value)}'${didYouMean(v, choices)}; choose one of ${choices.join(', ')}`);
}

export function parseBoolean(flag: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 1) return true;
  if (value === 'false' || value === 0) return false;
  throw new ConfigError(`${flag} must be true or false, got '${String(value)}'`);
}
