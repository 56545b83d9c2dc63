/**
 * Per-epoch progress bar (cli-progress) with running loss, accuracy, images/s and ETA on a
 * terminal. When stdout is not a terminal (CI logs, `| tee`, SLURM output files) a redrawn bar
 * would be noise, so it prints one plain line each time another `everyPercent` of the epoch is done.
 * Speed and ETA are computed here from images processed rather than by cli-progress, because its
 * ETA smooths over update calls, not images, and is wrong when batches differ in size.
 */
import { Presets, SingleBar } from 'cli-progress';

export interface EpochProgressOptions {
  epoch: number;
  epochs: number;
  /** Images in this pass. */
  total: number;
  /** 'train' or 'val' — what the bar is counting. */
  phase?: string;
  stream?: NodeJS.WritableStream;
  /** Without a TTY, a line per this share of the pass (default 25: at 25, 50, 75 and 100%). */
  everyPercent?: number;
  /** Clock in ms (injectable for tests). */
  now?: () => number;
}

export interface ProgressStats {
  /** Running mean loss of the epoch so far. */
  loss: number;
  /** Running accuracy in [0, 1]. */
  accuracy: number;
}

export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export interface EpochProgress {
  /** `done` is the number of images processed so far in this pass. */
  update(done: number, stats: ProgressStats): void;
  /** Completes the bar; prints the final line. Returns images/s over the whole pass. */
  stop(): number;
}

export function createEpochProgress(options: EpochProgressOptions): EpochProgress {
  const now = options.now ?? (() => performance.now());
  const start = now();
  const epochWidth = String(options.epochs).length;
  const label = `epoch ${String(options.epoch).padStart(epochWidth)}/${options.epochs}${options.phase ? ` ${options.phase}` : ''}`;
  const stream = options.stream ?? process.stdout;
  if (!(stream as { isTTY?: boolean }).isTTY) return lineProgress(options, label, stream, now, start);
  const bar = new SingleBar(
    {
      format: `${label} |{bar}| {value}/{total} img | loss {loss} | acc {acc} | {ips} img/s | ETA {remaining}`,
      barsize: 24,
      hideCursor: true,
      stream,
    },
    Presets.shades_classic,
  );
  let done = 0;
  const payload = (stats: ProgressStats) => {
    const seconds = (now() - start) / 1000;
    const ips = seconds > 0 ? done / seconds : 0;
    return {
      loss: Number.isFinite(stats.loss) ? stats.loss.toFixed(4) : String(stats.loss),
      acc: `${(stats.accuracy * 100).toFixed(1)}%`,
      ips: ips.toFixed(1),
      remaining: ips > 0 ? formatEta((options.total - done) / ips) : '?',
    };
  };
  bar.start(options.total, 0, { loss: '-', acc: '-', ips: '0.0', remaining: '?' });
  return {
    update(value, stats) {
      done = Math.min(value, options.total);
      bar.update(done, payload(stats));
    },
    stop() {
      const seconds = (now() - start) / 1000;
      bar.stop();
      return seconds > 0 ? done / seconds : 0;
    },
  };
}

/** Plain lines for logs: `epoch 2/10 train 50% | 5000/10000 img | loss … | acc … | … img/s | ETA …`. */
function lineProgress(options: EpochProgressOptions, label: string, stream: NodeJS.WritableStream, now: () => number, start: number): EpochProgress {
  const every = Math.max(1, Math.min(100, options.everyPercent ?? 25));
  let done = 0;
  let printedStep = 0;
  let last: ProgressStats = { loss: NaN, accuracy: NaN };
  const line = () => {
    const seconds = (now() - start) / 1000;
    const ips = seconds > 0 ? done / seconds : 0;
    const pct = options.total > 0 ? Math.floor((done / options.total) * 100) : 100;
    const loss = Number.isFinite(last.loss) ? last.loss.toFixed(4) : '-';
    const acc = Number.isFinite(last.accuracy) ? `${(last.accuracy * 100).toFixed(1)}%` : '-';
    stream.write(
      `${label} ${pct}% | ${done}/${options.total} img | loss ${loss} | acc ${acc} | ${ips.toFixed(1)} img/s | ETA ${ips > 0 ? formatEta((options.total - done) / ips) : '?'}\n`,
    );
  };
  return {
    update(value, stats) {
      done = Math.min(value, options.total);
      last = stats;
      const step = options.total > 0 ? Math.floor(((done / options.total) * 100) / every) : 0;
      if (step > printedStep) {
        printedStep = step;
        line();
      }
    },
    stop() {
      if (done > 0 && printedStep < Math.floor(100 / every)) line();
      const seconds = (now() - start) / 1000;
      return seconds > 0 ? done / seconds : 0;
    },
  };
}
