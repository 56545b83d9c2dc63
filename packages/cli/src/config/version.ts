import { readFileSync } from 'node:fs';

/** The CLI package's version (`cxr --version`, and stamped into every model file CXR writes). */
export function cxrVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
