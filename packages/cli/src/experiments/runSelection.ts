/**
 * Which grid runs this invocation executes: `--only NAME[,NAME...]` (names or globs, as --freeze's) and
 * `--shard i/n`. Shards are 1-based (`--shard 1/4` … `--shard 4/4`), like Playwright's, and runs
 * are dealt round-robin so VGG and ResNet runs (slow and fast) spread evenly over shards.
 * With a SLURM array `--array=1-4`: `--shard $SLURM_ARRAY_TASK_ID/4`; with a Kubernetes indexed
 * job (0-based): `--shard $((JOB_COMPLETION_INDEX + 1))/4`.
 */
import { nameMatcher } from '@cxr/nn';
import { ConfigError } from '../config/configError.ts';
import { didYouMean } from '../config/closestName.ts';

export interface Shard {
  /** 1-based shard number. */
  index: number;
  count: number;
}

export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new ConfigError(`bad --shard '${text}'; use i/n with 1 <= i <= n, e.g. --shard 1/4`);
  }
  return { index, count };
}

/** The items of shard i of n: positions i-1, i-1+n, i-1+2n, ... Every item lands in exactly one shard. */
export function selectShard<T>(items: readonly T[], shard: Shard): T[] {
  return items.filter((_, k) => k % shard.count === shard.index - 1);
}

/** Runs named by `--only` (comma-separated names or globs), in grid order; each pattern must match something. */
export function selectOnly<T extends { name: string }>(runs: readonly T[], only: string): T[] {
  const patterns = only
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (patterns.length === 0) throw new ConfigError(`--only needs a run name; see cxr experiments run --help for the names`);
  const names = runs.map((r) => r.name);
  const matchers = patterns.map((p) => {
    const matches = nameMatcher(p);
    if (!names.some(matches)) {
      throw new ConfigError(`--only '${p}' matches no run${didYouMean(p, names)}; run names: ${names.join(', ')}`);
    }
    return matches;
  });
  return runs.filter((r) => matchers.some((m) => m(r.name)));
}

/** --only first, then --shard, so a shard of a subset is still balanced. */
export function selectRuns<T extends { name: string }>(runs: readonly T[], options: { only?: string; shard?: string } = {}): T[] {
  let selected = options.only ? selectOnly(runs, options.only) : [...runs];
  if (options.shard) selected = selectShard(selected, parseShard(options.shard));
  return selected;
}
