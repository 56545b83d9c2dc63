// eval and predict report how far they are over many images (they were silent until the end).
import { expect, it } from 'vitest';
import { createCountProgress } from '../src/progress/countProgress.ts';

function sink(isTTY: boolean) {
  const text: string[] = [];
  return { stream: Object.assign({ write: (s: string) => text.push(s) > 0, isTTY }) as unknown as NodeJS.WritableStream & { isTTY?: boolean }, text };
}

it('without a terminal: a line at each quarter of the images', () => {
  const { stream, text } = sink(false);
  const p = createCountProgress('eval test', 100, { stream });
  for (let done = 0; done <= 100; done += 10) p.update(done);
  p.stop();
  expect(text).toEqual([
    'eval test: 30/100 images (30%)\n',
    'eval test: 50/100 images (50%)\n',
    'eval test: 80/100 images (80%)\n',
    'eval test: 100/100 images (100%)\n',
  ]);
});

it('on a terminal: one redrawn line, ended by stop; silent for a handful of images', () => {
  const tty = sink(true);
  const p = createCountProgress('predict', 40, { stream: tty.stream });
  p.update(20);
  p.update(40);
  p.stop();
  expect(tty.text).toEqual(['\rpredict: 20/40 images', '\rpredict: 40/40 images', '\n']);
  const few = sink(true);
  const q = createCountProgress('predict', 3, { stream: few.stream });
  q.update(3);
  q.stop();
  expect(few.text).toEqual([]);
});
