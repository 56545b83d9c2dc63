import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { linkOrCopyAtomic, tmpPrefix, writeFileAtomic, writeJsonAtomic } from '../src/run/atomicWrite.ts';
import { appendHistory, formatHistoryCsv, historyFromJson, parseHistoryCsv, readHistory, truncateHistory, type HistoryRow } from '../src/run/historyCsv.ts';
import {
  inspectRunFolder,
  isRunFinished,
  lockFileName,
  prepareRunFolder,
  readJsonFile,
  RunFolderError,
  writeRunConfig,
  writeRunMetrics,
} from '../src/run/runFolder.ts';
import { lockRunFolder } from '../src/run/runLock.ts';
import { spawnSync } from 'node:child_process';

const fresh = () => mkdtempSync(join(tmpdir(), 'cxr-run-'));
const row = (epoch: number, extra: Partial<HistoryRow> = {}): HistoryRow => ({
  epoch,
  trainLoss: 0.5 / epoch,
  trainAccuracy: 0.7,
  valLoss: 0.6 / epoch,
  valAccuracy: 0.65,
  lr: 1e-3,
  seconds: 1.25,
  ...extra,
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
  it('file-system errors name the file (ENOSPC included)', async () => {
    expect(() => writeFileAtomic('/nonexistent-cxr/x/metrics.json', '{}')).toThrow(/^cannot write \/nonexistent-cxr\/x\/metrics\.json: ENOENT$/);
    // The safetensors writer on a full disk: its temporary file is a link to /dev/full.
    const { writeSafetensorsFile, tmpPathFor } = await import('@cxr/models');
    const dir = fresh();
    const out = join(dir, 'optimizer.safetensors');
    symlinkSync('/dev/full', tmpPathFor(out));
    expect(() => writeSafetensorsFile(out, new Map([['w', { dtype: 'float32' as const, shape: [4], data: new Float32Array(4) }]]))).toThrow(
      `cannot write ${out}: ENOSPC (disk full: free space or write elsewhere)`,
    );
    expect(readdirSync(dir)).toEqual([]);
  });
  it('linkOrCopyAtomic: the same bytes under the new name (a hard link), untouched when the source is replaced', () => {
    const dir = fresh();
    const last = join(dir, 'last.safetensors');
    const best = join(dir, 'best.safetensors');
    writeFileAtomic(last, 'epoch 1');
    writeFileAtomic(best, 'epoch 0');
    linkOrCopyAtomic(last, best);
    expect(readFileSync(best, 'utf8')).toBe('epoch 1');
    expect(statSync(best).ino).toBe(statSync(last).ino); // a hard link: no bytes copied
    // The next epoch replaces last by rename and deletes the set before: best keeps its bytes.
    writeFileAtomic(last, 'epoch 2');
    expect(readFileSync(best, 'utf8')).toBe('epoch 1');
    rmSync(last);
    expect(readFileSync(best, 'utf8')).toBe('epoch 1');
    // Twice over the same link: nothing changes, no tmp file stays.
    writeFileAtomic(last, 'epoch 3');
    linkOrCopyAtomic(last, best);
    linkOrCopyAtomic(last, best);
    expect(readFileSync(best, 'utf8')).toBe('epoch 3');
    // A missing source names the file being written and leaves it as it was.
    expect(() => linkOrCopyAtomic(join(dir, 'missing'), best)).toThrow(new RegExp(`^cannot write ${best}: ENOENT$`));
    expect(readFileSync(best, 'utf8')).toBe('epoch 3');
    expect(readdirSync(dir).filter((f) => f.startsWith(tmpPrefix))).toEqual([]);
  });
  // /dev/shm is a tmpfs on Linux: no hard link from it to the temp folder's file system.
  const otherFs = existsSync('/dev/shm') && statSync('/dev/shm').dev !== statSync(tmpdir()).dev;
  it.skipIf(!otherFs)('linkOrCopyAtomic copies across file systems (skipped where /dev/shm is missing or on the same one)', () => {
    const dir = fresh();
    const best = join(dir, 'best.safetensors');
    writeFileAtomic(best, 'old');
    const shm = mkdtempSync('/dev/shm/cxr-run-');
    try {
      writeFileAtomic(join(shm, 'last'), 'from tmpfs');
      linkOrCopyAtomic(join(shm, 'last'), best);
      expect(readFileSync(best, 'utf8')).toBe('from tmpfs');
      expect(statSync(best).ino).not.toBe(statSync(join(shm, 'last')).ino);
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
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
    // An empty cell is not a loss of 0 (Number('') is 0).
    expect(() => parseHistoryCsv(`${formatHistoryCsv([])}1,,0,0,0,0,0\n`)).toThrow(/line 2 has a non-numeric trainLoss/);
    // A checkpoint's JSON holds a NaN loss as null: restored as NaN, written back as NaN.
    const restored = historyFromJson(JSON.parse(JSON.stringify([row(1, { trainLoss: NaN })])));
    expect(restored[0].trainLoss).toBeNaN();
    expect(restored[0].valAccuracy).toBe(row(1).valAccuracy);
    expect(parseHistoryCsv(formatHistoryCsv(restored))[0].trainLoss).toBeNaN();
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
  it('a folder of unrelated files is not a run: refused (even with --force), contents named, nothing deleted', () => {
    // The probe: `--out /x --force` where /x held thesis.tex and the dataset emptied /x.
    const dir = fresh();
    writeFileSync(join(dir, 'thesis.tex'), 'notes');
    mkdirSync(join(dir, 'data'));
    for (const options of [{}, { force: true }, { resume: true }]) {
      expect(() => prepareRunFolder(dir, options)).toThrow(
        /is not a CXR run folder \(no config\.json or trainer\.json\) but holds data, thesis\.tex; nothing was changed/,
      );
    }
    expect(() => prepareRunFolder(dir)).not.toThrow(/--force/);
    expect(readdirSync(dir).sort()).toEqual(['data', 'thesis.tex']);
  });
  it("--force removes only the files a run writes; the user's files next to them stay", () => {
    const dir = fresh();
    writeRunConfig(dir, { arch: 'resnet18' });
    // The old run's evidence (model card, audit, curves) and its evaluations on other data go too:
    // left beside a new run's config they would describe a model that no longer exists.
    const evidence = ['audit.json', 'MODEL_CARD.md', 'roc.png', 'pr.png', 'calibration.png', 'eval-val-on-other-1a2b.json'];
    for (const f of [
      'history.csv',
      'last.safetensors',
      'optimizer.safetensors',
      'trainer.json',
      'eval-test.json',
      'notes.md',
      'best.safetensors.tmp-99',
      ...evidence,
    ])
      writeFileSync(join(dir, f), 'x');
    mkdirSync(join(dir, 'figures'));
    expect(prepareRunFolder(dir, { force: true })).toBe('fresh');
    expect(readdirSync(dir).sort()).toEqual(['figures', 'notes.md']);
  });
  it('a long listing of what is there is capped', () => {
    const dir = fresh();
    for (let i = 0; i < 30; i++) writeFileSync(join(dir, `f${String(i).padStart(2, '0')}`), '');
    expect(() => inspectRunFolder(dir)).toThrow(/holds f00, f01, f02, f03, f04 … and 25 more;/);
  });
  it("cleans the safetensors writer's NAME.tmp-PID debris as well as atomicWrite's", () => {
    // Before: optimizer.safetensors.tmp-PID (89 MB for ResNet-18) survived every resume.
    const dir = fresh();
    writeRunConfig(dir, { arch: 'resnet18' });
    writeFileSync(join(dir, 'optimizer.safetensors.tmp-4242'), 'half');
    writeFileSync(join(dir, `${tmpPrefix}config.json.1.abc`), 'half');
    expect(prepareRunFolder(dir, { resume: true })).toBe('resume');
    expect(readdirSync(dir)).toEqual(['config.json']);
  });
  it('a folder that cannot be created is an error, not an endless loop (--out /proc/x)', () => {
    const t0 = performance.now();
    expect(() => prepareRunFolder('/proc/cxr-run/deeper')).toThrow(
      /cannot create the run folder \/proc\/cxr-run\/deeper \(\/proc\/cxr-run: ENOENT\); choose another --out/,
    );
    expect(() => lockRunFolder('/proc/x')).toThrow(/cannot create the run folder \/proc\/x/);
    expect(performance.now() - t0).toBeLessThan(2000);
    const nested = join(fresh(), 'a', 'b', 'c');
    expect(prepareRunFolder(nested)).toBe('fresh');
    expect(existsSync(nested)).toBe(true);
  });
  it('readJsonFile errors say what to do', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'bad.json'), '{');
    expect(() => readJsonFile(join(dir, 'bad.json'))).toThrow(/is not valid JSON; delete it or rerun with --force/);
    expect(() => readJsonFile(join(dir, 'missing.json'))).toThrow(/cannot read/);
  });
});

describe('run lock', () => {
  it('a second lock on a live run is refused naming its PID; release frees it', () => {
    const dir = fresh();
    const a = lockRunFolder(dir);
    // Another process taking the same folder (the probe: two trains started 0.3 s apart).
    const other = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `
      import('${join(import.meta.dirname, '../src/run/runLock.ts')}').then(({ lockRunFolder }) => {
        try { lockRunFolder(${JSON.stringify(dir)}); console.log('locked'); } catch (e) { console.log(e.message); }
      });`,
      ],
      { encoding: 'utf8' },
    );
    expect(other.stdout).toMatch(new RegExp(`is in use by another cxr train \\(pid ${process.pid}, started`));
    expect(existsSync(join(dir, lockFileName))).toBe(true);
    a.release();
    expect(existsSync(join(dir, lockFileName))).toBe(false);
    lockRunFolder(dir).release();
  });
  it('a stale lock (its process is gone, e.g. after SIGKILL) is taken over, saying so', () => {
    const dir = fresh();
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
    writeFileSync(join(dir, lockFileName), JSON.stringify({ pid: dead, host: hostname(), started: 'then' }));
    const said: string[] = [];
    const lock = lockRunFolder(dir, (m) => said.push(m));
    expect(said.join('\n')).toMatch(new RegExp(`removing a stale lock of pid ${dead} \\(no longer running\\)`));
    expect(JSON.parse(readFileSync(join(dir, lockFileName), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });
});
