/**
 * VGG16's fc6 (25088 -> 4096) at batch 8, its three matmuls of a training step, under the matmul
 * configuration in use ('default') and with the `lanes` kernel's lane axis and tile forced, each
 * variant run `--reps` times in turn (median wall time per call, sync included).
 * `pnpm exec tsx src/linear.ts [--reps 7] [--batch 8]`
 */
import { getDevice, getMatmulTiles, matmul, rand, setMatmulTiles, sync, type MatmulConfig, type Tensor } from '@cxr/tensor';
import { numberOption } from './cliArgs.ts';

const reps = numberOption('--reps', 7);
const batch = numberOption('--batch', 8);

await getDevice({ lowerMainThreadPriority: true });
const base = getMatmulTiles();
console.log(`matmul configuration: ${JSON.stringify(base)}; batch ${batch}`);
const x = rand([batch, 25088]);
const w = rand([4096, 25088]);
const dy = rand([batch, 4096]);
const passes: [string, () => Tensor][] = [
  ['forward x·Wᵀ', () => matmul(x, w, { transB: true })],
  ['input gradient dy·W', () => matmul(dy, w)],
  ['weight gradient dyᵀ·x', () => matmul(dy, x, { transA: true })],
];
const variants: Record<string, MatmulConfig | null> = { default: null };
if (base.kind === 'lanes') {
  variants['lanes N'] = { ...base, laneAxis: 'N' };
  variants['lanes M'] = { ...base, laneAxis: 'M' };
  variants['lanes N, tv 8'] = { ...base, laneAxis: 'N', tv: 8 };
}
for (const [name, fn] of passes) {
  const cells: string[] = [];
  for (const [v, c] of Object.entries(variants)) {
    setMatmulTiles(c);
    fn().dispose();
    await sync();
    const ms: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      const y = fn();
      await sync();
      ms.push(performance.now() - t);
      y.dispose();
    }
    ms.sort((p, q) => p - q);
    cells.push(`${v} ${ms[Math.floor(reps / 2)].toFixed(0)} ms`);
  }
  console.log(`${name.padEnd(22)} ${cells.join(' | ')}`);
}
setMatmulTiles(null);
process.exit(0);
