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
  it('without a TTY: one plain line per 25% of the epoch with loss, accuracy, images/s and ETA', () => {
    const { stream, text } = captureStream();
    let t = 0;
    const bar = createEpochProgress({ epoch: 2, epochs: 10, total: 100, phase: 'train', stream, now: () => t });
    t = 2000;
    bar.update(40, { loss: 0.51234, accuracy: 0.8125 });
    t = 5000;
    bar.update(100, { loss: 0.4, accuracy: 0.85 });
    expect(bar.stop()).toBeCloseTo(20, 6);
    const lines = text().split('\n').filter(Boolean);
    expect(lines).toEqual([
      'epoch  2/10 train 40% | 40/100 img | loss 0.5123 | acc 81.3% | 20.0 img/s | ETA 3s',
      'epoch  2/10 train 100% | 100/100 img | loss 0.4000 | acc 85.0% | 20.0 img/s | ETA 0s',
    ]);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for the terminal's escape codes
    expect(text()).not.toMatch(/\r|\x1b\[/); // nothing redrawn: no carriage returns or cursor codes
    const many = captureStream();
    const b2 = createEpochProgress({ epoch: 1, epochs: 1, total: 1000, stream: many.stream, now: () => t });
    for (let i = 10; i <= 1000; i += 10) b2.update(i, { loss: 1, accuracy: 0.5 });
    b2.stop();
    expect(
      many
        .text()
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[2]),
    ).toEqual(['25%', '50%', '75%', '100%']);
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
