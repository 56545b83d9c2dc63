#!/usr/bin/env bash
# Packs issue 15's GPU run into .gpu/ (see benchmarks/README.md, "GPU script"): the benchmark
# (app-0.mjs, from benchmarks/src/gpu-step.ts), the data loader's worker (worker.js, which the
# loader starts from beside the bundle) and the `cxr` CLI itself (cli/bin/cxr.mjs, two levels under
# a package.json that carries the CLI's version as the published package does, with its own copy of
# the worker, and its PNG renderer's native binary in node_modules: esbuild cannot bundle a .node file).
# Run from the root of a clone (not a git worktree: pack-gpu.sh writes .git/info/exclude):
#   bash benchmarks/gpu/pack.sh
# then on the GPU machine: bash .gpu/start.sh app-0.mjs [--smoke] (steps, matmul, loader, PyTorch)
# and bash .gpu/start.sh app-2.mjs [--smoke] (`cxr train` itself)
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
bash ../shared/device/pack-gpu.sh benchmarks/src/gpu-step.ts packages/data/src/loader/worker.ts benchmarks/src/gpu-train.ts
cp .gpu/app-1.mjs .gpu/worker.js
version=$(node -p "require('./packages/cli/package.json').version")
echo "{\"type\":\"module\",\"version\":\"$version\"}" > .gpu/package.json
mkdir -p .gpu/cli/bin
cp .gpu/worker.js .gpu/cli/bin/worker.js
npx --yes esbuild@0.25 packages/cli/src/main.ts --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --external:@resvg/resvg-js --log-level=warning \
  --banner:js="import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" \
  --outfile=.gpu/cli/bin/cxr.mjs
resvg=$(cd packages/cli && node -e "console.log(require('path').dirname(require.resolve('@resvg/resvg-js/package.json')))")
binding=$(cd "$resvg" && node -e "console.log(require('path').dirname(require.resolve('@resvg/resvg-js-linux-x64-gnu/package.json')))")
mkdir -p .gpu/node_modules/@resvg
cp -rL "$resvg" .gpu/node_modules/@resvg/resvg-js
cp -rL "$binding" .gpu/node_modules/@resvg/resvg-js-linux-x64-gnu
du -sh .gpu | sed 's/^/packed with the CLI: /'
