import type { StepResult, SubmittedStep } from './steps.ts';

/**
 * Trains over `batches` with one step in flight: the next batch is fetched and its step recorded
 * and submitted while the device still runs the previous one, whose loss and predictions are
 * read back meanwhile. Waiting for each readback before recording the next step left the device
 * idle while the host took the next batch from the loader, uploaded it and recorded the step's
 * few hundred dispatches. The device runs the steps in queue order either way, so the results
 * are the same, and `done` sees them in order, one step late. `submit` returns null for a batch
 * it skips; `index` counts batches from 1, skipped ones included.
 */
export async function trainInFlight<B>(
  batches: AsyncIterable<B>,
  submit: (batch: B, index: number) => Promise<SubmittedStep | null>,
  done: (result: StepResult, batch: B, index: number) => void,
): Promise<void> {
  let pending: { step: SubmittedStep; batch: B; index: number } | null = null;
  let index = 0;
  for await (const batch of batches) {
    index++;
    const step = await submit(batch, index);
    if (!step) continue;
    // If `done` throws for the step before it, this one is left unread: no unhandled rejection.
    step.result.catch(() => {});
    if (pending) done(await pending.step.result, pending.batch, pending.index);
    pending = { step, batch, index };
  }
  if (pending) done(await pending.step.result, pending.batch, pending.index);
}
