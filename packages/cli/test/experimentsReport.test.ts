// experiments report: --out may be a new folder (merging --runs from several machines, as its help
// shows), and a run that shares no test images with the best one (a grid that varies the data or
// the classes) is listed as not compared instead of aborting the whole report.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { experimentsReport } from '../src/commands/experiments.ts';
import { compareWithBest, formatPairedComparison } from '../src/experiments/pairedComparison.ts';

const work = mkdtempSync(join(tmpdir(), 'cxr-exp-report-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function predictions(name: string, header: string, rows: string[]): string {
  const dir = join(work, 'runs', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'predictions.csv'), [header, ...rows].join('\n') + '\n');
  return dir;
}

describe('experiments report', () => {
  it('writes report.md into an --out folder that does not exist yet', async () => {
    const grid = join(work, 'grid.yaml');
    writeFileSync(grid, 'runs:\n  - name: a\n  - name: b\n    lr: 0.01\n');
    const out = join(work, 'merged', 'new');
    vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await experimentsReport(undefined, { grid, runs: [join(work, 'nowhere')], out });
    } finally {
      vi.restoreAllMocks();
    }
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/0 of 2 runs finished/);
  });

  it('lists runs without test images in common as not compared, and compares the others', () => {
    const two = 'split,file,label,predicted,p_infected,p_normal';
    const rows = (dir: string, shift: number) =>
      Array.from({ length: 20 }, (_, i) => {
        const label = i % 2 ? 'normal' : 'infected';
        const p = ((i * 7 + shift) % 10) / 10;
        return `test,/${dir}/${i}.png,${label},${p >= 0.5 ? 'infected' : 'normal'},${p},${1 - p}`;
      });
    const folders = {
      best: predictions('best', two, rows('d', 0)),
      other: predictions('other', two, rows('d', 3)),
      elsewhere: predictions('elsewhere', two, rows('e', 1)),
      three: predictions('three', 'split,file,label,predicted,p_a,p_b,p_c', ['test,/d/0.png,a,a,0.5,0.3,0.2']),
    };
    const notCompared: string[] = [];
    const rowsOut = compareWithBest(folders, { best: 0.9, other: 0.8, elsewhere: 0.7, three: 0.6 }, 0, notCompared);
    expect(rowsOut.map((r) => r.name)).toEqual(['other']);
    expect(notCompared).toEqual(['elsewhere (no test image in common with best)', 'three (3 classes against 2 with best)']);
    expect(formatPairedComparison(rowsOut, notCompared)).toContain('Not compared (no paired test images): elsewhere');
    expect(existsSync(folders.best)).toBe(true);
  });
});
