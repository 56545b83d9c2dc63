/**
 * "eval: 120/3000 images" on stderr for the commands that run a model over many images (`eval`,
 * `predict`), which otherwise said nothing until the end: at 224 px on a CPU adapter a test split
 * takes minutes. On a terminal the line is redrawn; otherwise (logs, pipes) a line at every
 * `everyPercent` of the work, and nothing at all for a handful of images (`minTotal`).
 * stdout stays clean for the results (predict --json).
 */
export interface CountProgress {
  update(done: number): void;
  /** Ends the redrawn line (a newline on a terminal). */
  stop(): void;
}

export function createCountProgress(
  label: string,
  total: number,
  options: { stream?: NodeJS.WritableStream & { isTTY?: boolean }; everyPercent?: number; minTotal?: number } = {},
): CountProgress {
  const stream = options.stream ?? process.stderr;
  const quiet = total < (options.minTotal ?? 32);
  const tty = Boolean(stream.isTTY);
  const every = options.everyPercent ?? 25;
  let nextPercent = every;
  let drawn = false;
  return {
    update(done) {
      if (quiet) return;
      if (tty) {
        stream.write(`\r${label}: ${done}/${total} images`);
        drawn = true;
        return;
      }
      const percent = (100 * done) / total;
      if (percent + 1e-9 < nextPercent && done < total) return;
      while (nextPercent <= percent + 1e-9) nextPercent += every;
      stream.write(`${label}: ${done}/${total} images (${Math.round(percent)}%)\n`);
    },
    stop() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
