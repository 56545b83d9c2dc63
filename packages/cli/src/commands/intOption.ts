import { InvalidArgumentError } from 'commander';

/**
 * Commander parser for integer options. It throws commander's InvalidArgumentError because only
 * commander knows which flag the value came from: it then reports "option '--epochs <n>' argument
 * 'abc' is invalid…" as a usage error (main.ts exits 2, as for a bad `train` flag) instead of a
 * bare runtime error that names no flag.
 */
export function intOption(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got '${v}'`);
  return n;
}
