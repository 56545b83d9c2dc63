// eval --run at another --image-size than the run was trained at is not the run's own evaluation:
// it used to replace the run's eval-<split>.json, recording nothing that told the two apart.
import { describe, expect, it } from 'vitest';
import { evalFileName, isRunsOwnEvaluation } from '../src/commands/evaluate.ts';
import { defaultTrainConfig, type TrainConfig } from '../src/config/trainConfig.ts';

const run: TrainConfig = { ...defaultTrainConfig, data: '/d/cxr', imageSize: 32 };

describe('eval --run --image-size', () => {
  it('is the run’s own evaluation only at the size it was trained at', () => {
    expect(isRunsOwnEvaluation(run, {}, 32)).toBe(true);
    expect(isRunsOwnEvaluation(run, {}, 64)).toBe(false);
    expect(isRunsOwnEvaluation(run, { data: '/other' }, 32)).toBe(false);
  });

  it('gets a file of its own per size, never eval-<split>.json; names without a size are unchanged', () => {
    const on = { data: '/d/cxr', split: 'val' as const, runsOwnSplits: false };
    const at64 = evalFileName({ ...on, imageSize: 64 });
    const at96 = evalFileName({ ...on, imageSize: 96 });
    expect(at64).toMatch(/^eval-val-on-cxr-[0-9a-f]{8}\.json$/);
    expect(new Set([at64, at96, evalFileName(on)]).size).toBe(3);
    expect(evalFileName({ ...on, runsOwnSplits: true })).toBe('eval-val.json');
  });
});
