import type { Rng } from '../rng.ts';

/** Smooth value noise on a g x g lattice (smoothstep-interpolated), values in [0, 1]. */
export function valueNoise(g: number, rng: Rng): (u: number, v: number) => number {
  const n = g + 2;
  const grid = new Float32Array(n * n);
  for (let i = 0; i < grid.length; i++) grid[i] = rng.next();
  return (u, v) => {
    const x = Math.min(Math.max(u, 0), 1) * g;
    const y = Math.min(Math.max(v, 0), 1) * g;
    const x0 = Math.floor(x);
    const y0 = Math.floor(y);
    let fx = x - x0;
    let fy = y - y0;
    fx = fx * fx * (3 - 2 * fx);
    fy = fy * fy * (3 - 2 * fy);
    const a = grid[y0 * n + x0];
    const b = grid[y0 * n + x0 + 1];
    const c = grid[(y0 + 1) * n + x0];
    const d = grid[(y0 + 1) * n + x0 + 1];
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
  };
}
