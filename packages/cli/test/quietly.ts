// Runs a command in-process with its output silenced, keeping what it printed as errors (console.error
// and stderr, where progress and one-line failures go) for the assertions.
import { vi } from 'vitest';

export async function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; err: string }> {
  const err: string[] = [];
  const spies = [
    vi.spyOn(console, 'log').mockImplementation(() => {}),
    vi.spyOn(console, 'warn').mockImplementation(() => {}),
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
      err.push(a.join(' '));
    }),
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      err.push(String(s));
      return true;
    }),
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true),
  ];
  try {
    return { value: await fn(), err: err.join('') };
  } finally {
    for (const s of spies) s.mockRestore();
  }
}
