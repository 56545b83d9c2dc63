/**
 * Ctrl-C during training: the first SIGINT asks the loop to stop at the next batch boundary (the
 * progress bar is stopped, so the cursor comes back, and the error says how to resume); a second
 * one exits at once. main() turns InterruptedError into exit code 130, as shells expect.
 */

export class InterruptedError extends Error {
  override name = 'InterruptedError';
  readonly exitCode = 130;
}

export interface InterruptWatch {
  /** Throws InterruptedError(message()) once Ctrl-C was pressed. */
  check(): void;
  readonly interrupted: boolean;
  dispose(): void;
}

/** Watches SIGINT until dispose(); `message` builds the error text (e.g. with the resume command). */
export function watchInterrupts(message: () => string): InterruptWatch {
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) {
      process.stderr.write('\x1b[?25h'); // show the cursor again before leaving
      process.exit(130);
    }
    interrupted = true;
    process.stderr.write('\ninterrupt: stopping after this batch (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);
  return {
    check() {
      if (interrupted) throw new InterruptedError(message());
    },
    get interrupted() {
      return interrupted;
    },
    dispose() {
      process.off('SIGINT', onSigint);
    },
  };
}
