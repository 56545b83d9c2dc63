import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Whether the module at `moduleUrl` is the script being run. The file name is checked too because
 * a bundle (the GPU pack) gives every module the bundle's own URL, which would start them all.
 */
export function isMain(moduleUrl: string, fileName: string): boolean {
  const entry = process.argv[1];
  return !!entry && fileURLToPath(moduleUrl) === entry && basename(entry) === fileName;
}
