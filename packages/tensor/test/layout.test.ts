import { describe, expect, it } from 'vitest';
import * as T from '../src/index.ts';
import { randomArray, sizeOf, stridesOf, unravel, useDevice } from './helpers.ts';

useDevice();

/** Float64 reference: out[c] = x[map(c)] for every output coordinate c. */
function gatherRef(x: ArrayLike<number>, inShape: number[], outShape: number[], map: (c: number[]) => number[] | null, fill = 0): number[] {
  const st = stridesOf(inShape);
  return Array.from({ length: sizeOf(outShape) }, (_, i) => {
    const src = map(unravel(i, outShape));
    return src === null ? fill : x[src.reduce((p, c, d) => p + c * st[d], 0)];
  });
}

describe('layout ops vs reference', () => {
  it('permute and transpose', async () => {
    const shape = [3, 5, 7, 2];
    const host = randomArray(sizeOf(shape), 1);
    const x = T.tensor(host, shape);
    const dims = [2, 0, 3, 1];
    const out = T.permute(x, dims);
    expect(out.shape).toEqual(dims.map((d) => shape[d]));
    expect(Array.from(await out.toArray())).toEqual(
      gatherRef(host, shape, [...out.shape], (c) => {
        const s = new Array(4);
        dims.forEach((d, i) => (s[d] = c[i]));
        return s;
      }).map(Math.fround),
    );
    const h2 = randomArray(255 * 3, 11);
    const t = T.transpose(T.tensor(h2, [255, 3]));
    expect(Array.from(await t.toArray())).toEqual(gatherRef(h2, [255, 3], [3, 255], (c) => [c[1], c[0]]));
  });

  it('reshape and flatten are views (no copy)', async () => {
    const x = T.rand([2, 3, 4], { seed: 2 });
    const before = T.memoryStats().inUseBytes;
    const r = T.reshape(x, [6, -1]);
    const f = T.flatten(x, 1);
    expect(r.shape).toEqual([6, 4]);
    expect(f.shape).toEqual([2, 12]);
    expect(T.memoryStats().inUseBytes).toBe(before);
    expect(Array.from(await r.toArray())).toEqual(Array.from(await x.toArray()));
    expect(() => T.reshape(x, [5, -1])).toThrow(/reshape: cannot view \[2,3,4\]/);
  });

  it('slice with starts, negative ends and steps', async () => {
    const shape = [13, 17];
    const host = randomArray(sizeOf(shape), 3);
    const out = T.slice(T.tensor(host, shape), [
      { start: 2, end: -3, step: 3 },
      { start: 5, step: 2 },
    ]);
    expect(out.shape).toEqual([3, 6]);
    expect(Array.from(await out.toArray())).toEqual(gatherRef(host, shape, [3, 6], (c) => [2 + 3 * c[0], 5 + 2 * c[1]]));
  });

  it('concat and stack along inner axes', async () => {
    const a = randomArray(2 * 3 * 5, 4);
    const b = randomArray(2 * 1 * 5, 5);
    const out = T.concat([T.tensor(a, [2, 3, 5]), T.tensor(b, [2, 1, 5])], 1);
    expect(out.shape).toEqual([2, 4, 5]);
    const ref = Array.from({ length: 40 }, (_, i) => {
      const [n, r, c] = unravel(i, [2, 4, 5]);
      return r < 3 ? a[(n * 3 + r) * 5 + c] : b[n * 5 + c];
    });
    expect(Array.from(await out.toArray())).toEqual(ref);
    const s = T.stack([T.tensor(b, [2, 5]), T.tensor(b, [2, 5])], 1);
    expect(s.shape).toEqual([2, 2, 5]);
    expect(() => T.concat([T.zeros([2, 3]), T.zeros([3, 3])], 1)).toThrow(/concat: shapes \[2,3\], \[3,3\] do not agree outside axis 1/);
  });

  it('pad with a constant, torch order (last dim first)', async () => {
    const shape = [2, 3, 5];
    const host = randomArray(sizeOf(shape), 6);
    const out = T.pad(T.tensor(host, shape), [1, 2, 0, 3], -9);
    expect(out.shape).toEqual([2, 6, 8]);
    expect(Array.from(await out.toArray())).toEqual(gatherRef(host, shape, [2, 6, 8], ([n, h, w]) => (h < 3 && w >= 1 && w < 6 ? [n, h, w - 1] : null), -9));
  });

  it('expand, indexSelect, gather and oneHot', async () => {
    const host = randomArray(7 * 3, 7);
    const x = T.tensor(host, [7, 3]);
    const e = T.expand(T.tensor(host.slice(0, 3), [3]), [4, 3]);
    expect(Array.from(await e.toArray())).toEqual(gatherRef(host, [3], [4, 3], (c) => [c[1]]));
    const idx = T.tensor(new Int32Array([6, 0, 3, 3]));
    expect(Array.from(await T.gather(x, idx).toArray())).toEqual(gatherRef(host, [7, 3], [4, 3], ([r, c]) => [[6, 0, 3, 3][r], c]));
    expect(Array.from(await T.indexSelect(x, 1, T.tensor(new Int32Array([2, 1]))).toArray())).toEqual(
      gatherRef(host, [7, 3], [7, 2], ([r, c]) => [r, [2, 1][c]]),
    );
    expect(Array.from(await T.oneHot(T.tensor(new Int32Array([2, 0, 1])), 4).toArray())).toEqual([0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
    expect(() => T.indexSelect(x, 0, T.zeros([2]))).toThrow(/indexSelect: index must be a 1-D int32 tensor, got float32 \[2\]/);
  });

  it('cast between float32 and int32 truncates toward zero', async () => {
    const i = T.cast(T.tensor([-2.7, -0.5, 0.5, 3.9]), 'int32');
    expect(i.dtype).toBe('int32');
    expect(Array.from(await i.toInt32Array())).toEqual([-2, 0, 0, 3]);
    expect(Array.from(await T.cast(i, 'float32').toArray())).toEqual([-2, 0, 0, 3]);
  });
});
