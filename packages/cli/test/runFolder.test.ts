import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpPrefix, writeFileAtomic, writeJsonAtomic } from '../src/run/atomicWrite.ts';
import { appendHistory, formatHistoryCsv, parseHistoryCsv, readHistory, truncateHistory, type HistoryRow } from '../src/run/historyCsv.ts';
import { isRunFinished, prepareRunFolder, readJsonFile, RunFolderError, writeRunConfig, writeRunMetrics } from '../src/run/runFolder.ts';

const fresh = () => mkdtempSync(join(tmpdir(), 'cxr-run-'));
const row = (epoch: number, extra: Partial<HistoryRow> = {}): HistoryRow => ({
  epoch, trainLoss: 0.5 / epoch, trainAccuracy: 0.7, valLoss: 0.6 / epoch, valAccuracy: 0.65, lr: 1e-3, seconds: 1.25, ...extra,
});

describe('atomic writes', () => {
  it('replaces the file whole and leaves no temporary files', () => {
    const dir = fresh();
    const path = join(dir, 'a.json');
    writeJsonAtomic(path, { a: 1 });
    writeFileAtomic(path, 'second');
    expect(readFileSync(path, 'utf8')).toBe('second');
    writeFileAtomic(join(dir, 'b.bin'), new Uint8Array([1, 2, 3]));
    expect([...readFileSync(join(dir, 'b.bin'))]).toEqual([1, 2, 3]);
    expect(readdirSync(dir).filter((f) => f.startsWith(tmpPrefix))).toEqual([]);
  });
  it('a failed write leaves the previous file intact', () => {
    const dir = fresh();
    const path = join(dir, 'x');
    writeFileAtomic(path, 'old');
    mkdirSync(join(dir, 'target-is-dir'));
    expect(() => writeFileAtomic(join(dir, 'target-is-dir'), 'new')).toThrow();
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir).filter((f) => f.startsWith(tmpPrefix))).toEqual([]);
  });
});

describe('history.csv', () => {
  it('round-trips rows, replaces a repeated epoch, truncates for resume', () => {
    const dir = fresh();
    appendHistory(dir, row(1));
    appendHistory(dir, row(2));
    appendHistory(dir, row(2, { valAccuracy: 0.9 })); // epoch 2 redone after an interruption
    appendHistory(dir, row(3));
    const rows = readHistory(dir);
    expect(rows.map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(rows[1]).toEqual(row(2, { valAccuracy: 0.9 }));
    expect(truncateHistory(dir, 1).map((r) => r.epoch)).toEqual([1]);
    expect(readHistory(dir)).toEqual([row(1)]);
    expect(readFileSync(join(dir, 'history.csv'), 'utf8').split('\n')[0]).toBe('epoch,trainLoss,trainAccuracy,valLoss,valAccuracy,lr,seconds');
  });
  it('parses NaN losses and rejects broken files with advice', () => {
    expect(parseHistoryCsv(formatHistoryCsv([row(1, { trainLoss: NaN })]))[0].trainLoss).toBeNaN();
    expect(() => parseHistoryCsv('epoch,trainLoss\n1,2\n')).toThrow(/missing column\(s\) trainAccuracy/);
    expect(() => parseHistoryCsv(`${formatHistoryCsv([])}1,x,0,0,0,0,0\n`)).toThrow(/line 2 has a non-numeric trainLoss/);
    expect(readHistory(fresh())).toEqual([]);
  });
});

describe('run folder', () => {
  it('a new folder is fresh; an existing run needs --resume or --force', () => {
    const dir = join(fresh(), 'runs', 'a');
    expect(prepareRunFolder(dir)).toBe('fresh');
    expect(prepareRunFolder(dir)).toBe('fresh'); // still empty
    writeRunConfig(dir, { arch: 'resnet18' });
    expect(() => prepareRunFolder(dir)).toThrow(RunFolderError);
    expect(() => prepareRunFolder(dir)).toThrow(/already holds an unfinished run; pass --resume to continue it, --force to overwrite it/);
    writeRunMetrics(dir, { version: 1 });
    expect(isRunFinished(dir)).toBe(true);
    expect(() => prepareRunFolder(dir)).toThrow(/already holds a finished run/);
    expect(prepareRunFolder(dir, { resume: true })).toBe('resume');
    expect(prepareRunFolder(dir, { force: true })).toBe('fresh');
    expect(readdirSync(dir)).toEqual([]);
  });
  it('rejects contradictions and nothing to resume', () => {
    const dir = fresh();
    expect(() => prepareRunFolder(join(dir, 'none'), { resume: true })).toThrow(/nothing to resume in .*; drop --resume/);
    expect(() => prepareRunFolder(dir, { resume: true, force: true })).toThrow(/contradict/);
    writeFileSync(join(dir, 'file'), '');
    expect(() => prepareRunFolder(join(dir, 'file'))).toThrow(/is not a folder/);
  });
  it('only temporary debris does not count as a run and is cleaned', () => {
    const dir = fresh();
    writeFileSync(join(dir, `${tmpPrefix}metrics.json.1.abc`), '{"half');
    expect(prepareRunFolder(dir)).toBe('fresh');
    expect(existsSync(join(dir, `${tmpPrefix}metrics.json.1.abc`))).toBe(false);
    expect(isRunFinished(dir)).toBe(false);
  });
  it('readJsonFile errors say what to do', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'bad.json'), '{');
    expect(() => readJsonFile(join(dir, 'bad.json'))).toThrow(/is not valid JSON; delete it or rerun with --force/);
    expect(() => readJsonFile(join(dir, 'missing.json'))).toThrow(/cannot read/);
  });
});
