export { matmul, type MatmulOptions, type MatmulConfig, type LanesConfig, type SharedConfig } from './matmul.ts';
export {
  setMatmulTiles,
  getMatmulTiles,
  autotuneMatmul,
  matmulCandidates,
  cpuDefault,
  gpuDefault,
  type AutotuneResult,
} from './autotune.ts';
