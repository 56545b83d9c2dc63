#!/usr/bin/env node
// The `cxr` command of an installed @cxr/cli: the compiled CLI (`pnpm build` makes dist/ in a
// checkout, where `pnpm cli …` runs the TypeScript directly instead).
import { main } from '../dist/main.js';

process.exitCode = await main(process.argv.slice(2));
