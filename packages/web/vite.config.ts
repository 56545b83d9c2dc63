import { builtinModules } from 'node:module';
import { defineConfig, type Plugin } from 'vite';

/** Fails the build if anything pulls a Node built-in or Dawn into the page (they belong to the Node entries). */
function noNodeModules(): Plugin {
  const node = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'webgpu']);
  return {
    name: 'cxr-no-node-modules',
    enforce: 'pre',
    resolveId(id, importer) {
      if (node.has(id)) this.error(`'${id}' imported by ${importer ?? '?'}: the browser build must not load Node-only modules`);
      return null;
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [noNodeModules()],
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1024 },
});
