/**
 * Issue 15's whole loop as users run it: `cxr train` itself (the CLI bundle that
 * `benchmarks/gpu/pack.sh` puts in .gpu/cli/bin/cxr.mjs) on a generated dataset of 256 px PNGs,
 * ResNet-18 at 224 px, batch 32, 3 epochs, once with `--workers 1` (what the CLI always used
 * before the flag) and once with `--workers auto`. Per epoch it reads the training pass's images/s
 * from the progress line and the epoch's seconds (training + validation) from history.csv; epoch 1
 * includes pipeline compilation. PyTorch's DataLoader + training loop on the same kind of files is
 * measured by gpu-step.ts (section 2), in the same GPU session.
 * Writes $OUT/gpu-train.json. `--smoke`: a tiny dataset at 64 px, to check the bundle anywhere.
 *   bash .gpu/start.sh app-2.mjs [--smoke]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { synthesizeDataset } from '@cxr/data';

const smoke = process.argv.includes('--smoke');
const out = process.env.OUT ?? 'benchmarks/results';
mkdirSync(out, { recursive: true });
const cli = process.env.CXR_CLI_BUNDLE ?? join(dirname(fileURLToPath(import.meta.url)), 'cli', 'bin', 'cxr.mjs');
if (!existsSync(cli)) throw new Error(`no CLI bundle at ${cli}: pack with benchmarks/gpu/pack.sh (or set CXR_CLI_BUNDLE)`);

const work = mkdtempSync(join(tmpdir(), 'cxr-gpu-train-'));
const data = join(work, 'data');
const perClass = smoke ? 12 : 512;
const t0 = performance.now();
await synthesizeDataset({ out: data, perClass, size: smoke ? 96 : 256, seed: 0, workers: cpus().length });
const report: Record<string, unknown> = { smoke, cores: cpus().length, perClass, synthesizeSeconds: (performance.now() - t0) / 1000, runs: {} };
console.log(`dataset: ${perClass} images per class in ${(report.synthesizeSeconds as number).toFixed(1)} s`);
const save = () => writeFileSync(join(out, 'gpu-train.json'), JSON.stringify(report, null, 2));

for (const workers of ['1', 'auto']) {
  const runDir = join(work, `run-${workers}`);
  const args = ['train', '--data', data, '--weights', 'none', '--image-size', smoke ? '64' : '224', '--batch-size', smoke ? '8' : '32'];
  args.push('--epochs', '3', '--workers', workers, '--out', runDir);
  const started = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 10 * 60_000, env: { ...process.env, CI: 'true' } });
  const seconds = (performance.now() - started) / 1000;
  const text = `${r.stdout}\n${r.stderr}`;
  // The progress line that completes each epoch's training pass: "epoch 2/3 train 100% | 1434/1434 img | … | 612.3 img/s | …".
  const trainImagesPerS = [...text.matchAll(/epoch (\d+)\/\d+ train 100% \|[^\n]*?\| ([\d.]+) img\/s/g)].map((m) => Number(m[2]));
  const history = existsSync(join(runDir, 'history.csv'))
    ? readFileSync(join(runDir, 'history.csv'), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => Number(l.split(',').pop()))
    : [];
  const adapter = /adapter: ([^\n]*)/.exec(text)?.[1] ?? '';
  report.runs = { ...(report.runs as object), [workers]: { exit: r.status, seconds, trainImagesPerS, epochSeconds: history, adapter } };
  console.log(
    `cxr train --workers ${workers}: exit ${r.status}, ${seconds.toFixed(1)} s in all; training img/s per epoch ${trainImagesPerS.join(', ')}; epoch seconds ${history.map((s) => s.toFixed(1)).join(', ')}`,
  );
  console.log(`  ${adapter}`);
  if (r.status !== 0) console.log(text.split('\n').slice(-15).join('\n'));
  save();
}
rmSync(work, { recursive: true, force: true });
console.log(`wrote ${join(out, 'gpu-train.json')}`);
