// A short standalone tour of @cxr/tensor: finds the adapter, multiplies two matrices on it and
// checks the result against the CPU.
import { destroyDevice, getDevice, matmul, randn, softmax, sum, sync } from '@cxr/tensor';

const gpu = await getDevice();
console.log(`adapter: ${gpu.adapterName}`);
console.log(`max storage binding: ${gpu.limits.maxStorageBufferBindingSize / 2 ** 20} MiB, max buffer: ${gpu.limits.maxBufferSize / 2 ** 20} MiB`);

const n = 512;
const a = randn([n, n], { seed: 1 });
const b = randn([n, n], { seed: 2 });
await sync();
const t0 = performance.now();
const c = matmul(a, b);
await sync();
const ms = performance.now() - t0;
console.log(`matmul ${n}x${n}x${n}: ${ms.toFixed(1)} ms, ${((2 * n ** 3) / ms / 1e6).toFixed(2)} GFLOP/s`);

const [ha, hb, hc] = await Promise.all([a.toArray(), b.toArray(), c.toArray()]);
let maxErr = 0;
for (const [i, j] of [
  [0, 0],
  [17, 300],
  [n - 1, n - 1],
]) {
  let ref = 0;
  for (let k = 0; k < n; k++) ref += ha[i * n + k] * hb[k * n + j];
  maxErr = Math.max(maxErr, Math.abs(ref - hc[i * n + j]));
}
console.log(`c[0,0] = ${hc[0].toFixed(4)}, max |GPU - CPU| at three entries: ${maxErr.toExponential(2)}`);
const rowSums = await sum(softmax(c, 1), 1).toArray();
console.log(`softmax rows sum to ${rowSums[0].toFixed(6)} … ${rowSums[n - 1].toFixed(6)}`);
await destroyDevice();
