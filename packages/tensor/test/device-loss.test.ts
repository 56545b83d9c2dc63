// A lost device must be reported, not hung on: pending and later reads reject with a message.
import { afterAll, expect, it } from 'vitest';
import * as T from '../src/node.ts';

afterAll(async () => {
  await T.destroyDevice();
});

it('reads reject with a clear error once the device is lost', async () => {
  await T.getDevice();
  const x = T.randn([1000], { seed: 1 });
  await x.toArray();
  // Destroying the GPUDevice underneath the library is the one loss that can be provoked on demand.
  T.gpu().device.destroy();
  const y = T.mul(x, 2);
  const read = y.toArray();
  await expect(Promise.race([read, new Promise((_, fail) => setTimeout(() => fail(new Error('hung')), 20_000))])).rejects.toThrow(
    /toArray \[1000\]: WebGPU device lost/,
  );
});
