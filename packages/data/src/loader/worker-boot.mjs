// Plain-JS entry for data workers. On Node 20, loader hooks given to a worker via
// execArgv ('--import tsx') are not applied to its entry module, so the TypeScript worker is
// loaded through tsx's programmatic API instead, which registers its own scoped hooks.
import { tsImport } from 'tsx/esm/api';

await tsImport('./worker.ts', import.meta.url);
