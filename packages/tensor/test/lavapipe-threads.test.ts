import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { lavapipeThreads } from '../src/device/lavapipeThreads.ts';

describe('lavapipeThreads', () => {
  it('asks for two workers per core, within llvmpipe’s 32', () => {
    expect(lavapipeThreads({}, 2)).toBe('4');
    expect(lavapipeThreads({}, 1)).toBe('2');
    expect(lavapipeThreads({}, 16)).toBe('32');
    expect(lavapipeThreads({}, 64)).toBe('32');
    expect(lavapipeThreads({ LP_NUM_THREADS: '' }, 3)).toBe('6');
  });

  it('keeps a count the user set', () => {
    expect(lavapipeThreads({ LP_NUM_THREADS: '1' }, 8)).toBeUndefined();
  });

  it('is in the environment once a Node device exists, unless the user set it', () => {
    // A child process: the setting must land before Dawn starts, which this test process did already.
    const script = "import { getDevice } from '@cxr/tensor'; await getDevice(); console.log(process.env.LP_NUM_THREADS);";
    const run = (env: NodeJS.ProcessEnv) =>
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env,
        encoding: 'utf8',
        cwd: import.meta.dirname,
      })
        .trim()
        .split('\n')
        .pop();
    const { LP_NUM_THREADS: _, ...env } = process.env;
    const cores = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
    expect(run(env)).toBe(lavapipeThreads({}, cores));
    expect(run({ ...env, LP_NUM_THREADS: '3' })).toBe('3');
  }, 60_000);
});
