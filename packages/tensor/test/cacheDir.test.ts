import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheDir } from '../src/cacheDir.ts';

describe('cacheDir', () => {
  it('prefers $CXR_CACHE, then $XDG_CACHE_HOME/cxr, then ~/.cache/cxr', () => {
    expect(cacheDir({ CXR_CACHE: '/tmp/a', XDG_CACHE_HOME: '/tmp/x' })).toBe('/tmp/a');
    expect(cacheDir({ XDG_CACHE_HOME: '/tmp/x' })).toBe(join('/tmp/x', 'cxr'));
    expect(cacheDir({})).toBe(join(homedir(), '.cache', 'cxr'));
  });

  it('ignores an empty $CXR_CACHE and a relative or empty $XDG_CACHE_HOME (XDG spec)', () => {
    expect(cacheDir({ CXR_CACHE: '', XDG_CACHE_HOME: 'rel/dir' })).toBe(join(homedir(), '.cache', 'cxr'));
    expect(cacheDir({ XDG_CACHE_HOME: '' })).toBe(join(homedir(), '.cache', 'cxr'));
  });

  it('no longer reads the old $CXR_CACHE_DIR', () => {
    expect(cacheDir({ CXR_CACHE_DIR: '/tmp/old' })).toBe(join(homedir(), '.cache', 'cxr'));
  });

  it('is the same function under @cxr/tensor and @cxr/tensor/cacheDir', async () => {
    const [root, leaf] = await Promise.all([import('@cxr/tensor'), import('@cxr/tensor/cacheDir')]);
    expect(root.cacheDir).toBe(leaf.cacheDir);
  });
});
