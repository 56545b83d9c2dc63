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

/**
 * Commander parser for a TCP port (0: any free one). `--port 70000`, `-1` or `abc` reached Node's
 * listen() and came back as "options.port should be >= 0 and < 65536", naming no flag, exit 1.
 */
export function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 65535;
}

export function portOption(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !isPort(n)) throw new InvalidArgumentError(`expected a port from 0 to 65535 (0: any free one), got '${v}'`);
  return n;
}
