import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createEpochProgress, formatEta } from '../src/progress/epochProgress.ts';
import { formatEpochSummary } from '../src/progress/epochSummary.ts';

function captureStream(): { stream: NodeJS.WritableStream; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  (stream as unknown as { isTTY: boolean }).isTTY = false; // as in CI logs
  return { stream, text: () => out };
}

describe('progress bar', () => {
  it('prints loss, accuracy, images/s and ETA without a TTY', () => {
    const { stream, text } = captureStream();
    let t = 0;
    const bar = createEpochProgress({ epoch: 2, epochs: 10, total: 100, phase: 'train', stream, now: () => t });
    t = 2000;
    bar.update(40, { loss: 0.51234, accuracy: 0.8125 });
    t = 5000;
    bar.update(100, { loss: 0.4, accuracy: 0.85 });
    expect(bar.stop()).toBeCloseTo(20, 6);
    const lines = text().split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^epoch {2}2\/10 train \|.*\| 0\/100 img/);
    expect(lines.at(-1)).toMatch(/100\/100 img \| loss 0\.4000 \| acc 85\.0% \| 20\.0 img\/s \| ETA 0s$/);
  });
  it('formats ETA and epoch summaries', () => {
    expect(formatEta(5.4)).toBe('5s');
    expect(formatEta(125)).toBe('2m05s');
    expect(formatEta(3 * 3600 + 7 * 60)).toBe('3h07m');
    expect(formatEta(Infinity)).toBe('?');
    expect(formatEpochSummary({ epoch: 3, trainLoss: 0.1, trainAccuracy: 0.95, valLoss: 0.2, valAccuracy: 0.9, lr: 1e-3, seconds: 12.34 }, 5, true)).toBe(
      'epoch 3/5: train loss 0.1000 acc 95.0% | val loss 0.2000 acc 90.0% | lr 1.0e-3 | 12.3 s | best so far, saved',
    );
  });
});
