#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/ensure-deps.sh
ensure_node
ensure_npm_deps
ensure_caddy
ensure_socket_activate
ensure_isolation_tools
ensure_chromium
# Lint and type-check first: they fail in seconds where the tests take minutes.
npm run --silent lint
npm run --silent typecheck
npm run --silent format:check
npm run --silent build
exec node scripts/run-tests.mjs "$@"
