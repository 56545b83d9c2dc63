import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { mergeTrainOptions } from '../config/trainCommand.ts';
import { collectRuns } from '../experiments/collectRuns.ts';
import { selectRuns } from '../experiments/runSelection.ts';
import { experimentRunOptions, profileNames, seedStudyRuns, type ProfileName } from '../experiments/seedStudy.ts';
import { formatExperimentReport } from '../report/comparisonTable.ts';
import { renderOverlayPng } from '../report/overlayChart.ts';
import { writeFileAtomic } from '../run/atomicWrite.ts';
import { isRunFinished } from '../run/runFolder.ts';
import { train } from '../train/train.ts';
import { ensureSyntheticData } from '../train/data.ts';
import { Command } from 'commander';
import { intOption } from './intOption.ts';

export interface ExperimentsRunOptions { only?: string; shard?: string; epochs?: number; profile: string; out: string; data?: string }

const grids = { 'seed-study': seedStudyRuns } as const;

function gridOf(name: string) {
  const g = (grids as Record<string, typeof seedStudyRuns>)[name];
  if (!g) throw new Error(`unknown experiment grid '${name}': use ${Object.keys(grids).join(', ')}`);
  return g;
}

/** Runs each selected grid run in its own folder, skipping finished ones and resuming unfinished ones. */
export async function experimentsRun(grid: string, o: ExperimentsRunOptions): Promise<void> {
  if (!profileNames.includes(o.profile as ProfileName)) throw new Error(`--profile ${o.profile}: use ${profileNames.join(' or ')}`);
  const runs = selectRuns(gridOf(grid), { only: o.only, shard: o.shard });
  const data = o.data ?? 'data/synthetic';
  if (!o.data) await ensureSyntheticData(data, console.log);
  console.log(`${grid}: ${runs.length} run(s) in ${o.out} (profile ${o.profile})`);
  for (const [i, run] of runs.entries()) {
    const raw = experimentRunOptions(run, { profile: o.profile as ProfileName, outRoot: o.out, data, epochs: o.epochs });
    const dir = raw.out!;
    if (isRunFinished(dir)) { console.log(`[${i + 1}/${runs.length}] ${run.name}: finished, skipped`); continue; }
    const resume = existsSync(join(dir, 'trainer.json'));
    const { config } = mergeTrainOptions({ resume, force: !resume && existsSync(dir) }, {}, { defaults: raw });
    console.log(`[${i + 1}/${runs.length}] ${run.name}${resume ? ' (resuming)' : ''}: ${run.description}`);
    await train(config, { isDefaultRun: !o.data });
  }
}

/** Merges run folders (from any number of shards) into the comparison table and curve overlay. */
export async function experimentsReport(grid: string, roots: string[], out: string): Promise<string> {
  const collected = collectRuns(gridOf(grid), roots);
  const overlay = collected.histories.length ? await renderOverlayPng(collected.histories) : null;
  if (overlay) writeFileAtomic(join(out, 'overlay.png'), new Uint8Array(overlay));
  const md = formatExperimentReport({ title: `Experiment grid ${grid}`, runs: collected.summaries, overlayPicture: overlay ? 'overlay.png' : undefined });
  writeFileAtomic(join(out, 'report.md'), md);
  console.log(md);
  return md;
}

export function experimentsCommand(): Command {
  const exp = new Command('experiments').description('the study\'s experiment grid');
  exp.command('run').argument('<grid>', 'seed-study')
    .option('--only <names>', 'comma-separated run names or globs').option('--shard <i/n>', 'this machine\'s share of the grid')
    .option('--epochs <n>', 'override every run\'s epochs', intOption).option('--profile <name>', 'smoke or full', 'smoke')
    .option('--data <dir>', 'image folders (default: the built-in synthetic set)').option('--out <dir>', 'root of the run folders', 'runs/seed-study')
    .action(async (grid: string, o) => { await experimentsRun(grid, o); });
  exp.command('report').argument('<grid>', 'seed-study').option('--runs <dirs...>', 'run roots to merge', ['runs/seed-study'])
    .option('--out <dir>', 'where report.md goes', 'runs/seed-study')
    .action(async (grid: string, o) => { await experimentsReport(grid, o.runs, o.out); });
  return exp;
}
