export {
  matmul, setMatmulTiles, getMatmulTiles, autotuneMatmul, matmulCandidates, cpuDefault, gpuDefault,
  type MatmulOptions, type MatmulConfig, type LanesConfig, type SharedConfig, type AutotuneResult,
} from './matmul.js';
