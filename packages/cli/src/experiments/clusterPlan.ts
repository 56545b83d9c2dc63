/**
 * `cxr experiments plan --grid FILE --slurm N | --k8s N`: a ready job-array script that runs the
 * grid's shards on N GPUs or nodes, one `--shard i/N` each, with the schedulers clusters already
 * run. Every shard writes into the same --out root (a shared filesystem), skips finished runs and
 * resumes unfinished ones, so a requeued or retried task continues instead of starting over.
 * The `cxr` invocation is `${CXR:-npx cxr}`, so a site can point it at its own install.
 */
import { stringify as toYaml } from 'yaml';

export interface PlanOptions {
  /** Grid file path as the job should see it. */
  grid: string;
  shards: number;
  out: string;
  profile?: string;
  /** Run name for the job, e.g. the grid's name. */
  name: string;
  /** Working directory of the job (where relative paths resolve). */
  workdir: string;
  /** Container image (Kubernetes only). */
  image?: string;
  /** PersistentVolumeClaim holding the repository, data and runs (Kubernetes only). */
  pvc?: string;
}

/** POSIX single-quote quoting for paths with spaces or quotes. */
function sh(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function jobName(name: string): string {
  const n = `cxr-${name}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/-$/, '');
  return n.slice(0, 52).replace(/-$/, '');
}

/** The cxr command of one shard; `shardExpr` is the shell expression of the 1-based shard number. */
function shardCommand(o: PlanOptions, shardExpr: string): string {
  const profile = o.profile ? ` --profile ${sh(o.profile)}` : '';
  return `\${CXR:-npx cxr} experiments run --grid ${sh(o.grid)} --out ${sh(o.out)}${profile} --shard "${shardExpr}/${o.shards}"`;
}

function checkShards(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`the number of shards must be a whole number >= 1, got ${n}`);
}

/** SLURM: one array task per shard (`--array=1-N`), one GPU each. Submit with `sbatch FILE`. */
export function slurmScript(o: PlanOptions): string {
  checkShards(o.shards);
  return [
    '#!/bin/bash',
    `#SBATCH --job-name=${jobName(o.name)}`,
    `#SBATCH --array=1-${o.shards}`,
    '#SBATCH --nodes=1',
    '#SBATCH --ntasks=1',
    '#SBATCH --gres=gpu:1',
    '#SBATCH --cpus-per-task=8',
    '#SBATCH --mem=32G',
    '#SBATCH --time=24:00:00',
    `#SBATCH --output=${o.out.replace(/%/g, '%%')}/slurm-%A_%a.log`,
    '#SBATCH --requeue',
    `# ${o.shards} shard(s) of ${o.name}; submit with: sbatch THIS_FILE`,
    `# when all tasks are done: cxr experiments report --grid ${sh(o.grid)} --out ${sh(o.out)}`,
    'set -euo pipefail',
    `cd ${sh(o.workdir)}`,
    `mkdir -p ${sh(o.out)}`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell variable for the job script, not a JS template
    shardCommand(o, '${SLURM_ARRAY_TASK_ID}'),
    '',
  ].join('\n');
}

/**
 * Kubernetes: an Indexed Job (completionMode: Indexed) with N completions; index i (0-based,
 * $JOB_COMPLETION_INDEX) runs shard i+1. Apply with `kubectl apply -f FILE`.
 */
export function k8sManifest(o: PlanOptions): string {
  checkShards(o.shards);
  const mount = '/work';
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: jobName(o.name), labels: { app: 'cxr' } },
    spec: {
      completionMode: 'Indexed',
      completions: o.shards,
      parallelism: o.shards,
      backoffLimitPerIndex: 2,
      template: {
        metadata: { labels: { app: 'cxr' } },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'cxr',
              image: o.image ?? 'node:20-bookworm',
              workingDir: o.workdir,
              command: ['bash', '-c', `mkdir -p ${sh(o.out)} && ${shardCommand(o, '$((JOB_COMPLETION_INDEX + 1))')}`],
              resources: { limits: { 'nvidia.com/gpu': 1 } },
              volumeMounts: [{ name: 'work', mountPath: mount }],
            },
          ],
          volumes: [{ name: 'work', persistentVolumeClaim: { claimName: o.pvc ?? 'cxr-work' } }],
        },
      },
    },
  };
  const head = [
    `# ${o.shards} shard(s) of ${o.name} as an indexed Job; apply with: kubectl apply -f THIS_FILE`,
    `# the volume '${o.pvc ?? 'cxr-work'}' (mounted at ${mount}) must hold the repository, the data and the runs;`,
    `# when all indexes have succeeded: cxr experiments report --grid ${sh(o.grid)} --out ${sh(o.out)}`,
  ];
  return `${head.join('\n')}\n${toYaml(job, { lineWidth: 0 })}`;
}
