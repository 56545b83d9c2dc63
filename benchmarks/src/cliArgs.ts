/**
 * The benchmark scripts' command line: bare flags (`--quick`) and options with a value
 * (`--rounds 3`), read from `process.argv` past the script's path.
 */
const argv = process.argv.slice(2);

/** Whether `--name` was given. */
export const flag = (name: string): boolean => argv.includes(name);

/** The word after `--name`, or undefined where `--name` is absent. */
export function option(name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** The number after `--name`, or `fallback` where `--name` is absent. */
export function numberOption(name: string, fallback: number): number;
export function numberOption(name: string): number | undefined;
export function numberOption(name: string, fallback?: number): number | undefined {
  const v = option(name);
  return v === undefined ? fallback : Number(v);
}
