// Symlinked class folders and image files are followed. Before, readdir's Dirent said neither
// "directory" nor "file" for a link, so a class folder linked in from elsewhere vanished (a
// 3-class set trained as 2) and linked images were dropped without a word.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadImageFolder } from '../src/index.ts';
import { tmpDir } from './helpers.ts';

const { dir, cleanup } = tmpDir('symlinks');
afterAll(cleanup);

function png(file: string, v: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    PNG.sync.write({ width: 8, height: 8, data: Buffer.alloc(64, v) } as PNG, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false }),
  );
}

describe('symbolic links', () => {
  it('a linked class folder, a linked split folder and linked images are used; a dangling link is listed as ignored', async () => {
    const elsewhere = path.join(dir, 'elsewhere');
    const root = path.join(dir, 'data');
    for (const split of ['train', 'val']) {
      for (let i = 0; i < 3; i++) png(path.join(root, split, 'normal', `n${i}.png`), 10 + i);
      for (let i = 0; i < 3; i++) png(path.join(root, split, 'covid', `c${i}.png`), 20 + i);
      // a third class kept in another place and linked in
      for (let i = 0; i < 3; i++) png(path.join(elsewhere, split, 'pneumonia', `p${i}.png`), 30 + i);
      symlinkSync(path.join(elsewhere, split, 'pneumonia'), path.join(root, split, 'pneumonia'));
    }
    // linked image files in a real class folder, one of them dangling
    png(path.join(elsewhere, 'extra.png'), 40);
    symlinkSync(path.join(elsewhere, 'extra.png'), path.join(root, 'train', 'normal', 'linked.png'));
    symlinkSync(path.join(elsewhere, 'gone.png'), path.join(root, 'train', 'normal', 'dangling.png'));
    // a link loop inside a class folder must not hang the scan
    symlinkSync('..', path.join(root, 'train', 'covid', 'loop'));
    // the test split itself is a link
    mkdirSync(path.join(elsewhere, 'test', 'normal'), { recursive: true });
    for (const c of ['normal', 'covid', 'pneumonia']) png(path.join(elsewhere, 'test', c, 'x.png'), 50);
    symlinkSync(path.join(elsewhere, 'test'), path.join(root, 'test'));

    const f = await loadImageFolder(root, { log: () => {}, warn: () => {} });
    expect(f.classes).toEqual(['covid', 'normal', 'pneumonia']);
    expect(f.counts().train).toEqual({ covid: 3, normal: 4, pneumonia: 3 });
    expect(f.counts().test).toEqual({ covid: 1, normal: 1, pneumonia: 1 });
    expect(f.ignored).toContain(path.join(root, 'train', 'normal', 'dangling.png'));
  });
});
