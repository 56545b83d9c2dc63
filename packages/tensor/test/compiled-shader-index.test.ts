import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { maxIndexFiles, openCompiledShaderIndex } from '../src/device/compiled-shader-index-node.ts';

const dirs: string[] = [];
const temp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A CXR cache and a Mesa cache root holding Mesa's database folder, as lavapipe leaves it. */
function caches() {
  const mesa = temp('cxr-index-mesa-');
  mkdirSync(join(mesa, 'mesa_shader_cache_db'));
  return { CXR_CACHE: temp('cxr-index-cache-'), MESA_SHADER_CACHE_DIR: mesa } as NodeJS.ProcessEnv;
}

describe('compiled-shader index', () => {
  it('remembers sources across processes for the same adapter and Mesa cache only', () => {
    const env = caches();
    const a = openCompiledShaderIndex('llvmpipe A', env);
    expect(a.has('src 1')).toBe(false);
    a.add(['src 1', 'src 2']);
    a.add(['src 2', 'src 3']);
    expect(a.has('src 3')).toBe(true);
    const again = openCompiledShaderIndex('llvmpipe A', env);
    expect(['src 1', 'src 2', 'src 3', 'src 4'].map((s) => again.has(s))).toEqual([true, true, true, false]);
    // Another driver version has its own cache entries in Mesa: nothing is vouched for.
    expect(openCompiledShaderIndex('llvmpipe B', env).has('src 1')).toBe(false);
    // Another Mesa cache folder: nothing either.
    expect(openCompiledShaderIndex('llvmpipe A', { ...env, MESA_SHADER_CACHE_DIR: temp('cxr-index-other-') }).has('src 1')).toBe(false);
  });

  it('starts over when Mesa has deleted and recreated its cache folder', () => {
    const env = caches();
    openCompiledShaderIndex('llvmpipe A', env).add(['src 1']);
    const db = join(env.MESA_SHADER_CACHE_DIR as string, 'mesa_shader_cache_db');
    rmSync(db, { recursive: true });
    mkdirSync(db);
    const after = openCompiledShaderIndex('llvmpipe A', env);
    expect(after.has('src 1')).toBe(false);
    after.add(['src 2']);
    expect(openCompiledShaderIndex('llvmpipe A', env).has('src 2')).toBe(true);
    expect(openCompiledShaderIndex('llvmpipe A', env).has('src 1')).toBe(false);
  });

  it(`keeps at most ${maxIndexFiles} files, dropping the oldest`, () => {
    const env = caches();
    const folder = join(env.CXR_CACHE as string, 'shader-index');
    mkdirSync(folder, { recursive: true });
    for (let i = 0; i < maxIndexFiles + 5; i++) {
      const f = join(folder, `old-${i}.txt`);
      writeFileSync(f, 'mesa x\n');
      utimesSync(f, 1000 + i, 1000 + i);
    }
    openCompiledShaderIndex('llvmpipe A', env).add(['src 1']);
    const left = readdirSync(folder);
    expect(left).toHaveLength(maxIndexFiles);
    expect(left).not.toContain('old-0.txt');
    expect(existsSync(join(folder, `old-${maxIndexFiles + 4}.txt`))).toBe(true);
    expect(openCompiledShaderIndex('llvmpipe A', env).has('src 1')).toBe(true);
  });
});
