// cache info / clean / env over a cache folder holding a dangling symlink (or an entry that
// vanished after the listing): they used to fail with a bare "ENOENT: …, stat", so the cache
// could not be cleaned; and a CXR_CACHE that is a file got "ENOTDIR: …, scandir".
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cacheClean, cacheInfo } from '../src/commands/cache.ts';

const work = mkdtempSync(join(tmpdir(), 'cxr-cache-entries-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('a dangling symlink is listed and left alone; the image cache is still cleaned', () => {
  const dir = join(work, 'cache');
  mkdirSync(join(dir, 'images'), { recursive: true });
  writeFileSync(join(dir, 'images', 'a.bin'), Buffer.alloc(100));
  symlinkSync(join(work, 'nowhere'), join(dir, 'broken'));
  expect(cacheInfo(dir)).toMatch(/images\s+100 B\s+1 file\(s\)/);
  const r = cacheClean({}, dir);
  expect(r.freed).toBe(100);
  expect(r.leftAlone).toEqual(['broken']);
  expect(existsSync(join(dir, 'images'))).toBe(false);
});

it('a CXR_CACHE that is a file is named as such', () => {
  const file = join(work, 'not-a-folder');
  writeFileSync(file, 'x');
  expect(() => cacheInfo(file)).toThrow(`cache: ${file} is a file, not a folder; point CXR_CACHE at a folder`);
});
