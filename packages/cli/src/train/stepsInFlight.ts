import type { StepResult } from './steps.ts';

/** Work recorded and submitted to the device; its result arrives with the readback. */
export interface InFlight<R> {
  readonly result: Promise<R>;
}

/**
 * Runs `submit` over `items` with one in flight: the next item is fetched and its work recorded
 * and submitted while the device still runs the previous one, whose results are read back
 * meanwhile. Waiting for each readback before recording the next step left the device idle while
 * the host took the next batch from the loader, uploaded it and recorded the step's few hundred
 * dispatches. The device runs the work in queue order either way, so the results are the same,
 * and `done` sees them in order, one item late. `submit` returns null for an item it skips;
 * `index` counts items from 1, skipped ones included. Training steps (`submitTrainStep`) and
 * evaluation batches (`predictAll`) both go through it.
 */
export async function oneInFlight<B, R = StepResult>(
  items: AsyncIterable<B>,
  submit: (item: B, index: number) => Promise<InFlight<R> | null>,
  done: (result: R, item: B, index: number) => void,
): Promise<void> {
  let pending: { work: InFlight<R>; item: B; index: number } | null = null;
  let index = 0;
  for await (const item of items) {
    index++;
    const work = await submit(item, index);
    if (!work) continue;
    // If `done` throws for the item before it, this one is left unread: no unhandled rejection.
    work.result.catch(() => {});
    if (pending) done(await pending.work.result, pending.item, pending.index);
    pending = { work, item, index };
  }
  if (pending) done(await pending.work.result, pending.item, pending.index);
}
