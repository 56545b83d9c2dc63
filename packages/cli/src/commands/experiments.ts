import { existsSync, mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError } from '../config/configError.ts';
import { mergeTrainOptions } from '../config/trainCommand.ts';
import type { TrainConfig } from '../config/trainConfig.ts';
import { k8sManifest, slurmScript } from '../experiments/clusterPlan.ts';
import { collectRuns } from '../experiments/collectRuns.ts';
import { compareWithBest, formatPairedComparison } from '../experiments/pairedComparison.ts';
import { loadGridFile } from '../experiments/gridFile.ts';
import { selectRuns } from '../experiments/runSelection.ts';
import { experimentRunOptions, profileNames, profiles, seedStudyRuns, type ExperimentRun, type ProfileName } from '../experiments/seedStudy.ts';
import { formatExperimentReport } from '../report/comparisonTable.ts';
import { renderOverlayPng } from '../report/overlayChart.ts';
import { writeFileAtomic } from '../run/atomicWrite.ts';
import { checkpointFiles, isRunFinished, runFiles } from '../run/runFolder.ts';
import { runSettingDifferences } from '../experiments/runCheck.ts';
import { formatList } from '@cxr/nn';
import { train } from '../train/train.ts';
import { ensureSyntheticData } from '../train/data.ts';
import { helpExamples } from './helpExamples.ts';
import { intOption } from './intOption.ts';

export interface ExperimentsRunOptions {
  only?: string;
  shard?: string;
  epochs?: number;
  profile?: string;
  out?: string;
  data?: string;
  grid?: string;
  /** Retrain runs whose folder records other settings than the grid asks for now. */
  force?: boolean;
}

const grids = { 'seed-study': seedStudyRuns } as const;

/** Either a named built-in grid (argument) or a grid file (--grid), never both. */
interface ResolvedGrid {
  title: string;
  runs: readonly ExperimentRun[];
  /** From a --grid file (the profile is then optional and overrides the file). */
  isFile: boolean;
  defaultOut: string;
}

function resolveGrid(name: string | undefined, file: string | undefined): ResolvedGrid {
  if (name && file) throw new ConfigError(`give a built-in grid name ('${name}') or --grid FILE, not both`);
  if (file) {
    const g = loadGridFile(file);
    return { title: g.name, runs: g.runs, isFile: true, defaultOut: join('runs', basename(file, extname(file))) };
  }
  if (!name) throw new ConfigError(`give a grid: ${Object.keys(grids).join(', ')}, or --grid FILE.yaml`);
  const runs = (grids as Record<string, readonly ExperimentRun[]>)[name];
  if (!runs) throw new ConfigError(`unknown experiment grid '${name}': use ${Object.keys(grids).join(', ')}, or --grid FILE.yaml`);
  return { title: name, runs, isFile: false, defaultOut: `runs/${name}` };
}

function checkProfile(profile: string | undefined): ProfileName | undefined {
  if (profile !== undefined && !profileNames.includes(profile as ProfileName)) throw new ConfigError(`--profile ${profile}: use ${profileNames.join(' or ')}`);
  return profile as ProfileName | undefined;
}

/** Raw train options of one run: grid-file values < --profile < --epochs; built-in grids as before. */
function runOptions(grid: ResolvedGrid, run: ExperimentRun, o: { profile?: ProfileName; out: string; data?: string; epochs?: number }): Partial<TrainConfig> {
  if (!grid.isFile) return experimentRunOptions(run, { profile: o.profile ?? 'smoke', outRoot: o.out, data: o.data ?? 'data/synthetic', epochs: o.epochs });
  return {
    ...run.options,
    ...(o.data !== undefined ? { data: o.data } : {}),
    ...(o.profile ? profiles[o.profile] : {}),
    ...(o.epochs !== undefined ? { epochs: o.epochs } : {}),
    out: `${o.out.replace(/\/+$/, '')}/${run.name}`,
  };
}

/** What `experiments run` does with one run's folder. */
type RunAction = 'train' | 'resume' | 'restart' | 'skip';

/**
 * Runs each selected grid run in its own folder. A finished run is skipped and an unfinished one
 * resumed only when its config.json records what the grid asks for now (runCheck.ts); a run that
 * differs is refused before anything trains, or retrained from scratch with `force`.
 */
export async function experimentsRun(gridName: string | undefined, o: ExperimentsRunOptions): Promise<void> {
  const grid = resolveGrid(gridName, o.grid);
  const profile = checkProfile(o.profile);
  const runs = selectRuns(grid.runs, { only: o.only, shard: o.shard });
  const out = o.out ?? grid.defaultOut;
  const conflicts: string[] = [];
  // Validate every selected run before the first one trains: a typo in run 7 should not wait hours.
  const planned = runs.map((run) => {
    const raw = runOptions(grid, run, { profile, out, data: o.data, epochs: o.epochs });
    const dir = raw.out!;
    const { config: wanted } = mergeTrainOptions({}, {}, { defaults: raw });
    const finished = isRunFinished(dir);
    const resumable = !finished && existsSync(join(dir, checkpointFiles.trainer));
    let action: RunAction = finished ? 'skip' : resumable ? 'resume' : 'train';
    if (finished || resumable) {
      const differences = runSettingDifferences(dir, wanted, resumable);
      const what = differences === null ? [`no ${runFiles.config} to compare with the grid`] : differences;
      if (what.length && o.force) action = 'restart';
      else if (what.length) conflicts.push(`${run.name} (${finished ? 'finished' : 'unfinished'}: ${what.join(', ')})`);
    }
    // A folder killed before its first checkpoint has nothing to resume: it starts over, as before.
    const force = action === 'restart' || (action === 'train' && existsSync(dir));
    const config = { ...wanted, resume: action === 'resume', force };
    // Without data from the grid or --data, runs use the built-in synthetic set (as the default job does).
    const usesSynthetic = grid.isFile ? raw.data === undefined : o.data === undefined;
    return { run, config, action, usesSynthetic };
  });
  if (conflicts.length) {
    throw new ConfigError(
      `${conflicts.length} run(s) in ${out} were trained with other settings than the grid asks for now, so they can be neither skipped nor resumed: ${formatList(conflicts, 3)}; pass --force to retrain them from scratch with the grid's settings, or run with the grid, --profile and --epochs they were started with`,
    );
  }
  for (const p of planned) if (p.usesSynthetic) await ensureSyntheticData(p.config.data, console.log);
  console.log(`${grid.title}: ${runs.length} run(s) in ${out}${profile ? ` (profile ${profile})` : grid.isFile ? '' : ' (profile smoke)'}`);
  for (const [i, p] of planned.entries()) {
    if (p.action === 'skip') {
      console.log(`[${i + 1}/${runs.length}] ${p.run.name}: finished, skipped`);
      continue;
    }
    const note = p.action === 'resume' ? ' (resuming)' : p.action === 'restart' ? " (--force: retrained with the grid's settings)" : '';
    console.log(`[${i + 1}/${runs.length}] ${p.run.name}${note}: ${p.run.description}`);
    await train(p.config, { isDefaultRun: p.usesSynthetic });
  }
}

/** Merges run folders (from any number of shards) into the comparison table and curve overlay. */
export async function experimentsReport(gridName: string | undefined, o: { grid?: string; runs?: string[]; out?: string }): Promise<string> {
  const grid = resolveGrid(gridName, o.grid);
  const out = o.out ?? grid.defaultOut;
  // The runs are looked for where `experiments run --out` put them unless --runs says otherwise.
  const roots = o.runs?.length ? o.runs : [out];
  const collected = collectRuns(grid.runs, roots);
  // --out may be a new folder when --runs names where the runs are (merging copies from several
  // machines into runs/merged, as the help shows): without this the write failed with a bare ENOENT.
  mkdirSync(out, { recursive: true });
  const overlay = collected.histories.length ? await renderOverlayPng(collected.histories) : null;
  if (overlay) writeFileAtomic(join(out, 'overlay.png'), new Uint8Array(overlay));
  const finished = Object.fromEntries(Object.entries(collected.folders).filter(([, f]) => isRunFinished(f)));
  const notCompared: string[] = [];
  const paired = compareWithBest(finished, Object.fromEntries(collected.summaries.map((r) => [r.name, r.valAccuracy])), undefined, notCompared);
  const md =
    formatExperimentReport({
      title: `Experiment grid ${grid.title}`,
      runs: collected.summaries,
      overlayPicture: overlay ? 'overlay.png' : undefined,
      intro: `Runs read from ${roots.join(', ')}.`,
    }) + formatPairedComparison(paired, notCompared);
  writeFileAtomic(join(out, 'report.md'), md);
  console.log(md);
  return md;
}

export function experimentsPlan(o: {
  grid?: string;
  slurm?: number;
  k8s?: number;
  out?: string;
  profile?: string;
  workdir?: string;
  image?: string;
  pvc?: string;
}): string {
  if (!o.grid) throw new ConfigError('experiments plan needs --grid FILE.yaml');
  if ((o.slurm === undefined) === (o.k8s === undefined)) throw new ConfigError('give one of --slurm N or --k8s N');
  const grid = resolveGrid(undefined, o.grid);
  checkProfile(o.profile);
  const shards = (o.slurm ?? o.k8s)!;
  if (shards > grid.runs.length)
    console.error(`note: ${shards} shards for ${grid.runs.length} run(s); ${shards - grid.runs.length} shard(s) will have nothing to do`);
  const common = { grid: o.grid, shards, out: o.out ?? grid.defaultOut, profile: o.profile, name: grid.title, image: o.image, pvc: o.pvc };
  const text =
    o.slurm !== undefined ? slurmScript({ ...common, workdir: o.workdir ?? process.cwd() }) : k8sManifest({ ...common, workdir: o.workdir ?? '/work' });
  process.stdout.write(text);
  return text;
}

export function experimentsCommand(): Command {
  const exp = new Command('experiments')
    .description("experiment grids: the study's seed-study or your own --grid FILE.yaml, run, sharded, reported")
    .addHelpText(
      'after',
      helpExamples([
        'cxr experiments run seed-study --profile smoke',
        'cxr experiments run --grid my-grid.yaml --data data/covid --out runs/mine',
        'cxr experiments report --grid my-grid.yaml --out runs/mine',
      ]),
    );
  exp
    .command('run')
    .description('train every run of a grid (finished runs are skipped, unfinished ones resumed, if they match the grid)')
    .argument('[grid]', `built-in grid: ${Object.keys(grids).join(', ')}`)
    .option('--grid <file>', 'your own grid: YAML with train keys; lists expand as a product (arch: [vgg16, resnet18])')
    .option('--only <names>', 'comma-separated run names or globs')
    .option('--shard <i/n>', "this machine's share of the grid, e.g. 2/4")
    .option('--epochs <n>', "override every run's epochs", intOption)
    .addOption(
      new Option(
        '--profile <name>',
        'smoke (64 px, 48 images per class, 2 epochs) or full (224 px, all data); default smoke for seed-study, none for --grid',
      ).choices([...profileNames]),
    )
    .option('--data <dir>', "image folders (default: the grid file's data, else the built-in synthetic set)")
    .option('--out <dir>', 'root of the run folders (default runs/<grid name>)')
    .option('--force', 'retrain from scratch the runs whose folder records other settings than the grid asks for now (otherwise refused)')
    .addHelpText(
      'after',
      helpExamples([
        'cxr experiments run seed-study --profile full --data data/cxr --shard 1/4',
        "cxr experiments run --grid my-grid.yaml --only 'vgg16_*' --out runs/mine",
      ]),
    )
    .action(async (grid: string | undefined, o) => {
      await experimentsRun(grid, o);
    });
  exp
    .command('report')
    .description("comparison table and curve overlay of a grid's runs (report.md, overlay.png in --out)")
    .argument('[grid]', `built-in grid: ${Object.keys(grids).join(', ')}`)
    .option('--grid <file>', 'your own grid file (as given to experiments run)')
    .option('--runs <dirs...>', 'run roots to merge, e.g. copies from several machines (default: --out)')
    .option('--out <dir>', 'where the runs are and report.md goes (default runs/<grid name>)')
    .addHelpText(
      'after',
      helpExamples([
        'cxr experiments report seed-study --out runs/seed-study',
        'cxr experiments report --grid my-grid.yaml --runs node1/runs node2/runs --out runs/merged',
      ]),
    )
    .action(async (grid: string | undefined, o) => {
      await experimentsReport(grid, o);
    });
  exp
    .command('plan')
    .description("print a SLURM job-array script or a Kubernetes indexed Job that runs a grid's shards on N GPUs")
    .option('--grid <file>', 'the grid file')
    .option('--slurm <n>', 'SLURM: N array tasks, one GPU each', intOption)
    .option('--k8s <n>', 'Kubernetes: indexed Job with N completions', intOption)
    .option('--out <dir>', 'shared root of the run folders (default runs/<grid name>)')
    .addOption(new Option('--profile <name>', 'passed to every shard').choices([...profileNames]))
    .option('--workdir <dir>', 'working directory of each task (default: here for SLURM, /work for Kubernetes)')
    .option('--image <name>', 'container image (Kubernetes; default node:20-bookworm)')
    .option('--pvc <name>', 'PersistentVolumeClaim with repository, data and runs (Kubernetes; default cxr-work)')
    .addHelpText(
      'after',
      helpExamples([
        'cxr experiments plan --grid my-grid.yaml --slurm 4 > grid.sbatch && sbatch grid.sbatch',
        'cxr experiments plan --grid my-grid.yaml --k8s 8 --image registry.example/cxr:1 > job.yaml && kubectl apply -f job.yaml',
      ]),
    )
    .action((o) => {
      experimentsPlan(o);
    });
  return exp;
}
