// Shared helper for parity tests that compare CXR with PyTorch/NumPy/PIL through Debian's own
// /usr/bin/python3 (never a venv or whatever `python3` is first on PATH, so results do not
// depend on the developer's environment). Arrays cross the boundary as .npy files (see npy.ts).
//
// Missing Python or modules: tests skip *loudly* (console.warn banner), except when
// CXR_REQUIRE_PARITY=1 or CI=true, where skipping would hide a broken setup, so they fail.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const pythonPath = '/usr/bin/python3';

/** Where parity Python scripts live; it is also on PYTHONPATH so scripts can share modules. */
export const pythonScriptDir = fileURLToPath(new URL('./python/', import.meta.url));

export function parityRequired(): boolean {
  return process.env.CXR_REQUIRE_PARITY === '1' || process.env.CI === 'true';
}

export interface RunPythonOptions {
  timeoutMs?: number;
  cwd?: string;
  env?: Record<string, string>;
}

function pythonEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PYTHONPATH: [pythonScriptDir, process.env.PYTHONPATH].filter(Boolean).join(':'),
    PYTHONDONTWRITEBYTECODE: '1', // keep __pycache__ out of the repository
    PYTHONHASHSEED: '0',
    ...extra,
  };
}

function exec(args: string[], options: RunPythonOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      pythonPath,
      args,
      { cwd: options.cwd, env: pythonEnv(options.env), timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          const tail = String(stderr).trim().split('\n').slice(-25).join('\n');
          reject(new Error(`${pythonPath} ${args.join(' ')} failed (${err.message.split('\n')[0]}):\n${tail}`));
        } else {
          resolve(String(stdout));
        }
      },
    );
  });
}

/**
 * Runs a script from test/parity/python/ (or an absolute path) and resolves to its stdout.
 * Rejects with the script's stderr tail on a non-zero exit.
 */
export function runPython(script: string, args: string[] = [], options: RunPythonOptions = {}): Promise<string> {
  const path = isAbsolute(script) ? script : join(pythonScriptDir, script);
  return exec([path, ...args], options);
}

/** Runs inline code (`python3 -c`); prefer a script file for anything longer than a line or two. */
export function runPythonCode(code: string, args: string[] = [], options: RunPythonOptions = {}): Promise<string> {
  return exec(['-c', code, ...args], options);
}

const probes = new Map<string, Promise<string | undefined>>();

/** undefined when /usr/bin/python3 can import all `modules`, else the reason it cannot. */
export function pythonMissing(modules: readonly string[]): Promise<string | undefined> {
  const key = [...modules].sort().join(',');
  let probe = probes.get(key);
  if (!probe) {
    probe = existsSync(pythonPath)
      ? runPythonCode(modules.map((m) => `import ${m}`).join('; ') || 'pass', [], { timeoutMs: 120_000 }).then(
          () => undefined,
          (err: Error) => `${pythonPath} cannot import ${modules.join(', ')}: ${err.message.split('\n').at(-1)}`,
        )
      : Promise.resolve(`${pythonPath} does not exist`);
    probes.set(key, probe);
  }
  return probe;
}

export const torchModules = ['torch', 'torchvision', 'numpy'] as const;

export async function torchAvailable(): Promise<boolean> {
  return (await pythonMissing(torchModules)) === undefined;
}

/**
 * true when the modules are importable. Otherwise fails (required mode) or warns with a banner
 * and returns false, e.g. `describe.runIf(await requireOrSkip('weights parity'))(...)`.
 */
export async function requireOrSkip(what: string, modules: readonly string[] = torchModules): Promise<boolean> {
  const reason = await pythonMissing(modules);
  if (reason === undefined) return true;
  const hint = 'install Debian python3-torch python3-torchvision python3-numpy (bash scripts/setup.sh --with-torch)';
  if (parityRequired()) throw new Error(`${what}: ${reason}; parity is required (CI=true or CXR_REQUIRE_PARITY=1): ${hint}`);
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\n!! ${what} SKIPPED: ${reason}\n!! ${hint}\n${bar}\n`);
  return false;
}

/** A fresh temporary directory for exchanging files with Python. */
export function parityTempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `cxr-parity-${label}-`));
}
