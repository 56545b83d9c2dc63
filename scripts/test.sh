#!/usr/bin/env bash
# Runs every package's tests one package at a time (they share the GPU, which on lavapipe is the
# CPU) and prints one 'N passed, N failed' line summed over all of them.
set -uo pipefail
cd "$(dirname "$0")/.."
rm -rf .cache/test-results; mkdir -p .cache/test-results
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
pnpm exec turbo run test --concurrency=1 --continue --output-logs=full "$@"
status=$?
node scripts/test-summary.mjs || status=1
exit $status
