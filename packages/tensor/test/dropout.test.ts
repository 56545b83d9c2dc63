import { describe, expect, it } from 'vitest';
import { dropout, dropoutBackward, Generator, tensor } from '../src/index.ts';
import { randomArray, relErr, useDevice } from './helpers.ts';

useDevice();

describe('dropout', () => {
  const n = 13 * 17 * 31;
  const xs = randomArray(n, 1, 0.5, 2); // never zero, so a kept element is visible in the output

  it('same seed, same mask; another seed or call, another mask', async () => {
    const x = tensor(xs, [13, 17, 31]);
    const a = await dropout(x, 0.3, { seed: 7 }).mask.toArray();
    const b = await dropout(x, 0.3, { seed: 7 }).mask.toArray();
    const c = await dropout(x, 0.3, { seed: 8 }).mask.toArray();
    expect(relErr(a, b)).toBe(0);
    expect(relErr(a, c)).toBeGreaterThan(0.1);
    const g = new Generator(7);
    const g1 = await dropout(x, 0.3, { generator: g }).mask.toArray();
    const g2 = await dropout(x, 0.3, { generator: g }).mask.toArray();
    expect(relErr(g1, a)).toBe(0);
    expect(relErr(g1, g2)).toBeGreaterThan(0.1);
    expect(g.calls).toBe(2);
  });

  for (const p of [0.1, 0.5, 0.9]) {
    it(`p = ${p}: keep rate ≈ 1−p, kept values scaled by 1/(1−p), backward uses the mask`, async () => {
      const x = tensor(xs, [n]);
      const { out, mask } = dropout(x, p, { seed: 123 });
      const m = await mask.toArray();
      const o = await out.toArray();
      const kept = m.reduce((s, v) => s + v, 0);
      const rate = kept / n;
      const sd = Math.sqrt((p * (1 - p)) / n);
      expect(Math.abs(rate - (1 - p))).toBeLessThan(5 * sd);
      const ref = Array.from(xs, (v, i) => (m[i] === 1 ? v / (1 - p) : 0));
      expect(m.every((v) => v === 0 || v === 1)).toBe(true);
      expect(relErr(o, ref)).toBeLessThan(1e-6);
      const dys = randomArray(n, 5);
      const dx = await dropoutBackward(tensor(dys, [n]), mask, p).toArray();
      expect(
        relErr(
          dx,
          Array.from(dys, (v, i) => (m[i] === 1 ? v / (1 - p) : 0)),
        ),
      ).toBeLessThan(1e-6);
      // neighbouring elements are independent: P(both kept) ≈ (1−p)²
      let both = 0;
      for (let i = 0; i + 1 < n; i += 2) both += m[i] * m[i + 1];
      expect(Math.abs(both / (n / 2) - (1 - p) ** 2)).toBeLessThan(0.03);
    });
  }

  it('p = 0 keeps everything, p = 1 drops everything', async () => {
    const x = tensor(xs, [n]);
    expect(relErr(await dropout(x, 0, { seed: 1 }).out.toArray(), xs)).toBe(0);
    const all = dropout(x, 1, { seed: 1 });
    expect((await all.out.toArray()).every((v) => v === 0)).toBe(true);
    expect(() => dropout(x, 1.5)).toThrow(/dropout: p must be in \[0, 1\], got 1.5/);
  });
});
