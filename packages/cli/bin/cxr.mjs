#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so the package needs no build step.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tsx = createRequire(import.meta.url).resolve('tsx/cli');
// Ctrl-C reaches the child too (same process group): wait for it to stop cleanly and pass on its
// exit code (130) instead of dying first and leaving its last lines after the shell prompt.
process.on('SIGINT', () => {});
const r = spawnSync(process.execPath, [tsx, join(here, '..', 'src', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? (r.signal === 'SIGINT' ? 130 : 1));
