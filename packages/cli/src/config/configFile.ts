/**
 * --config FILE: JSON or YAML with the same keys as the flags, written either as the flag
 * (`weight-decay`) or camelCase (`weightDecay`). Unknown keys are errors, since a silently ignored
 * typo would train something other than what the file says.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './configError.ts';
import { didYouMean } from './closestName.ts';
import { trainConfigKeys, type TrainConfigKey } from './trainConfig.ts';

/** 'weight-decay' / 'weight_decay' / '--weight-decay' -> 'weightDecay'. */
export function toCamelKey(key: string): string {
  return key.replace(/^-+/, '').replace(/[-_]+([a-z0-9])/gi, (_, c: string) => c.toUpperCase());
}

/** Parses file text (JSON is valid YAML, but JSON files get JSON's stricter errors). */
export function parseConfigText(text: string, source: string): Partial<Record<TrainConfigKey, unknown>> {
  let data: unknown;
  try {
    data = extname(source).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    const reason = String((error as Error).message).split('\n')[0];
    throw new ConfigError(`cannot parse config file ${source}: ${reason}; fix the syntax (JSON or YAML)`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(`config file ${source} must hold a mapping of option names to values, e.g. "arch: resnet18"`);
  }
  const result: Partial<Record<TrainConfigKey, unknown>> = {};
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const camel = toCamelKey(key);
    if (!(trainConfigKeys as string[]).includes(camel)) {
      throw new ConfigError(`unknown key '${key}' in config file ${source}${didYouMean(camel, trainConfigKeys)}; known keys: ${trainConfigKeys.join(', ')}`);
    }
    result[camel as TrainConfigKey] = value;
  }
  return result;
}

export function loadConfigFile(path: string): Partial<Record<TrainConfigKey, unknown>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`config file ${path} not found or unreadable; check the --config path`);
  }
  return parseConfigText(text, path);
}
