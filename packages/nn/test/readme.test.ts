import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

it('README shows examples/train.ts verbatim, and it runs', async () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const example = readFileSync(`${root}examples/train.ts`, 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block?.trim()).toBe(example.trim());
  const out = await new Promise<string>((resolve, reject) => {
    execFile(`${root}../../node_modules/.bin/tsx`, ['examples/train.ts'], { cwd: root, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
  expect(out).toMatch(/step 20 loss \d\.\d+ acc/);
  expect(out).toMatch(/eval logits/);
});
