/** Commander parser for integer options: a non-integer is a usage error naming the value. */
export function intOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`expected an integer, got '${v}'`);
  return n;
}
