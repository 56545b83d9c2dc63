import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import * as T from '../src/node.ts';
import { useDevice } from './helpers.ts';

useDevice();

describe('main thread priority on a CPU adapter', () => {
  it('runs the hook once, at the first wait for the device', async () => {
    const g = T.gpu();
    const saved = g.beforeFirstWait;
    let calls = 0;
    g.beforeFirstWait = () => void calls++;
    try {
      const x = T.tensor([1, 2, 3]);
      const y = T.mul(x, x);
      expect(calls).toBe(0);
      expect(Array.from(await y.toArray())).toEqual([1, 4, 9]);
      expect(calls).toBe(1);
      await T.sync();
      await y.toArray();
      expect(calls).toBe(1);
    } finally {
      g.beforeFirstWait = saved;
    }
  });

  it('keeps normal priority while the first work is recorded, and lowers it when the process first waits', (ctx) => {
    if (!T.gpu().isCpuAdapter) return ctx.skip('a GPU adapter: the priority is never lowered there');
    // A child process: the priority, once lowered, cannot be raised again.
    const script = `
import { getPriority, setPriority } from 'node:os';
import * as T from '../src/node.ts';
// This test's own process may have lowered itself already, and children inherit that.
try { setPriority(0, 0); } catch {}
const start = getPriority(0);
await T.getDevice({ prewarmShaders: false });
const atOpen = getPriority(0);
const y = T.add(T.tensor([1, 2]), T.tensor([3, 4]));
const recording = getPriority(0);
const values = Array.from(await y.toArray());
console.log('result ' + JSON.stringify({ start, atOpen, recording, afterWait: getPriority(0), values }));
await T.destroyDevice();
`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: import.meta.dirname });
    const r = JSON.parse(/^result (.*)$/m.exec(out)?.[1] ?? 'null') as {
      start: number;
      atOpen: number;
      recording: number;
      afterWait: number;
      values: number[];
    };
    expect(r.values).toEqual([4, 6]);
    if (r.start >= 19) return ctx.skip('the test runs at nice 19 already and may not raise its child (not root)');
    expect(r.atOpen).toBe(r.start);
    expect(r.recording).toBe(r.start);
    expect(r.afterWait).toBe(19);
  }, 60_000);
});
