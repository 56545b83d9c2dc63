// Fixes from the second CLI audit: data audit --out replacing a file without a word, a file given
// to data audit called "no such folder", a missing weights convert input as a raw ENOENT, serve
// --port out of range as Node's raw message, and the comparison table's "Test F1" naming no class.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { synthesizeDataset } from '@cxr/data';
import { collectRuns } from '../src/experiments/collectRuns.ts';
import type { ExperimentRun } from '../src/experiments/seedStudy.ts';
import { main } from '../src/main.ts';
import { evaluatePredictions } from '../src/metrics/classificationMetrics.ts';
import { formatComparisonTable, formatExperimentReport } from '../src/report/comparisonTable.ts';
import { writeRunMetrics } from '../src/run/runFolder.ts';

const work = mkdtempSync(join(tmpdir(), 'cxr-input-errors-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the CLI in-process; returns the exit code and everything written to stderr. */
async function cli(argv: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const spies = [
    vi.spyOn(console, 'log').mockImplementation(() => {}),
    vi.spyOn(console, 'warn').mockImplementation(() => {}),
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
      err.push(`${a.join(' ')}\n`);
    }),
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      err.push(String(s));
      return true;
    }),
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true),
  ];
  try {
    return { code: await main(argv), err: err.join('') };
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

describe('cxr data audit', () => {
  const data = join(work, 'data');
  beforeAll(async () => {
    await synthesizeDataset({ out: data, perClass: 4, size: 32, seed: 1 });
  }, 120_000);

  it('refuses to replace an existing --out file unless --force', async () => {
    const out = join(work, 'audit.json');
    writeFileSync(out, 'an earlier audit\n');
    const refused = await cli(['data', 'audit', data, '--out', out]);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toContain(`data audit: --out ${out} already exists; pass --force`);
    expect(refused.err.trim().split('\n')).toHaveLength(1);
    expect(readFileSync(out, 'utf8')).toBe('an earlier audit\n');
    const forced = await cli(['data', 'audit', data, '--out', out, '--force']);
    expect(forced.code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toBeTypeOf('object');
  }, 120_000);

  it('says that a file given as <dir> is a file, not that it does not exist', async () => {
    const file = join(work, 'one.png');
    writeFileSync(file, 'not a folder');
    const r = await cli(['data', 'audit', file]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(`data audit: ${file} is a file, not a folder`);
    expect(r.err).not.toMatch(/no such folder/);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });
});

describe('cxr weights convert', () => {
  it('names a missing input file in one line, not a raw ENOENT', async () => {
    const missing = join(work, 'nonexistent.pth');
    const out = join(work, 'out.safetensors');
    const r = await cli(['weights', 'convert', missing, out]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(`weights convert: ${missing}: no such file`);
    expect(r.err).not.toMatch(/ENOENT/);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });
});

describe('cxr serve --port', () => {
  it.each(['70000', '-1', 'abc', '1.5', ''])('--port %j is a usage error (exit 2) naming --port in one line', async (port) => {
    const r = await cli(['serve', '--port', port, '--page', join(work, 'nowhere')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--port/);
    expect(r.err).toContain('0 to 65535');
    expect(r.err).not.toMatch(/options\.port/);
  });
});

describe('experiments report: what "Test F1" is of', () => {
  const root = join(work, 'runs');
  /** A finished run folder whose test split has these classes; F1 is of the first one. */
  function finishedRun(name: string, classNames: string[]): ExperimentRun {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    const k = classNames.length;
    const labels = Array.from({ length: 6 * k }, (_, i) => i % k);
    const probs = labels.map((l, i) => Array.from({ length: k }, (_, c) => (c === (i % 5 === 0 ? (l + 1) % k : l) ? 0.8 : 0.2 / (k - 1))));
    const test = evaluatePredictions({ probs, labels, classNames }, { positiveClass: classNames[0] });
    writeRunMetrics(dir, { version: 1, bestEpoch: 1, epochs: 1, splits: { test } });
    return { name, description: name, options: {} };
  }

  it('names the class, and one-vs-rest for three or more classes', () => {
    const runs = [finishedRun('three-a', ['covid', 'pneumonia', 'normal']), finishedRun('three-b', ['covid', 'pneumonia', 'normal'])];
    const { summaries } = collectRuns(runs, [root]);
    expect(summaries.map((s) => s.status)).toEqual(['finished', 'finished']);
    const md = formatExperimentReport({ title: 'grid', runs: summaries });
    expect(md).toContain('| Test F1 (covid vs rest) | Test macro F1 |');
    expect(md).not.toMatch(/\| Test F1 \|/);
  });

  it('names the class in each cell when the runs differ', () => {
    const table = formatComparisonTable([
      { name: 'a', status: 'finished', testF1: 0.5, testF1Class: 'covid', testClassCount: 3 },
      { name: 'b', status: 'finished', testF1: 0.75, testF1Class: 'infected', testClassCount: 2 },
    ]);
    expect(table).toContain('| Test F1 (class) |');
    expect(table).toContain('| 50.00% (covid vs rest) |');
    expect(table).toContain('| 75.00% (infected) |');
  });
});
