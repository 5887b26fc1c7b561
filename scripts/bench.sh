#!/usr/bin/env bash
# `npm run bench [-- --quick]`: installs what the benchmarks need (wrk, Caddy), builds, runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure-deps.sh
ensure_node
ensure_npm_deps
ensure_caddy
ensure_wrk
npm run build >/dev/null
# The controller runs in this process: with the V8 options `ten` gives it (src/cli/node-flags.ts).
exec node --expose-gc --max-semi-space-size=1 dist/test/bench/run.js "$@"
