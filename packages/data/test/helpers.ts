import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32, type Rng } from '../src/rng.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const REAL_ROOT = path.resolve(repoRoot, '../shared/datasets/cxr-real');

/**
 * Whether the shared real-X-ray folder is present. Absent in a user's own clone: tests skip
 * loudly. In CI (CI=true) its absence is a failure, never a silent skip.
 */
export function realDataAvailable(): boolean {
  if (existsSync(path.join(REAL_ROOT, 'manifest.csv'))) return true;
  const msg = `cxr-real dataset not found at ${REAL_ROOT}: real-image tests are SKIPPED`;
  if (process.env.CI === 'true') throw new Error(`${msg.replace('SKIPPED', 'required in CI')}`);
  console.warn(`\n${'!'.repeat(100)}\n!! ${msg}\n${'!'.repeat(100)}\n`);
  return false;
}

export interface ManifestRow {
  split: string;
  class: string;
  file: string;
  width: number;
  height: number;
  mode: string;
  bitDepth: number;
  format: string;
  notes: string;
}

export function tmpDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `cxr-data-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Seed for random test inputs: fresh each run unless TEST_SEED is set; printed on failure paths. */
export function testRng(tag: string): { rng: Rng; seed: number } {
  const seed = process.env.TEST_SEED ? Number(process.env.TEST_SEED) : (Math.random() * 2 ** 32) >>> 0;
  console.log(`[${tag}] random seed ${seed} (set TEST_SEED to reproduce)`);
  return { rng: mulberry32(seed), seed };
}
