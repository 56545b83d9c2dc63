import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The test settings every package shares. Forks, one file at a time: the files share one GPU
 * (on lavapipe, the CPU), and the native binding needs a process of its own per file. Each package
 * writes a JSON report that scripts/test-summary.mjs adds up into the line CI reads.
 */
export function cxrTestConfig(report: string) {
  return defineConfig({
    test: {
      pool: 'forks',
      fileParallelism: false,
      testTimeout: 300_000,
      hookTimeout: 120_000,
      reporters: ['default', ['json', { outputFile: fileURLToPath(new URL(`./.cache/test-results/${report}.json`, import.meta.url)) }]],
    },
  });
}
