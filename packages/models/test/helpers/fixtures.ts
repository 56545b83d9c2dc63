// Paths and expected values of the checked-in fixtures (regenerate with
// test/parity/python/make_unit_fixtures.py; see the docstring there).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HostTensor } from '../../src/weights/index.ts';

export const fixtureDir = fileURLToPath(new URL('../fixtures/', import.meta.url));

export function fixturePath(name: string): string {
  return fixtureDir + name;
}

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(fixturePath(name)));
}

interface Expected {
  dtype: string;
  shape: number[];
  values: (number | string)[];
}

export const oddExpected: Record<string, Expected> = JSON.parse(readFileSync(fixturePath('odd_expected.json'), 'utf8'));

/** Values of a tensor as numbers/strings the way odd_expected.json spells them (int64 as strings). */
export function plainValues(t: HostTensor): (number | string)[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? v.toString() : v));
}
