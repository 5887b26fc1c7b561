#!/usr/bin/env bash
# The demo, from a fresh clone: installs what is missing, builds, and runs Caddy + the tenement
# controller + two notes tenants (alice, bob) reachable through Caddy on http://127.0.0.1:8000.
#   bash scripts/demo.sh            run until Ctrl-C (then tenants and Caddy are stopped)
#   bash scripts/demo.sh --check    start, prove a request goes through Caddy, stop, exit 0
# Ports: CONTROLLER_PORT (8080) and HTTP_PORT (8000) can be overridden from the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/lib/ensure-deps.sh
ensure_node
ensure_npm_deps
ensure_caddy
ensure_isolation_tools
if [ "${SKIP_BUILD:-}" != "1" ]; then npm run --silent build; fi

check=0
[ "${1:-}" = "--check" ] && check=1
cport=${CONTROLLER_PORT:-8080}
hport=${HTTP_PORT:-8000}
config="$root/scripts/demo/tenement.toml"
data="${DEMO_DATA_DIR:-$root/demo-data}"
logfile="${DEMO_LOG:-$root/demo-controller.log}"
ten() { node "$root/dist/src/cli/ten.js" "$@"; }

cleanup() {
  [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  ten down --config "$config" --data-dir "$data" >/dev/null 2>&1 || true
}
trap cleanup EXIT

ten serve --config "$config" --data-dir "$data" --port "$cport" --http-port "$hport" --domain localhost \
  >"$logfile" 2>&1 &
pid=$!

for _ in $(seq 1 100); do
  if curl -fsS -H 'Host: alice.notes.localhost' "http://127.0.0.1:$hport/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "controller exited; see $logfile:" >&2; tail -20 "$logfile" >&2; exit 1; fi
  sleep 0.2
done

echo "== through Caddy on http://127.0.0.1:$hport =="
curl -fsS -X POST -H 'Host: alice.notes.localhost' --data 'hello from the demo' "http://127.0.0.1:$hport/"; echo
curl -fsS -H 'Host: alice.notes.localhost' "http://127.0.0.1:$hport/"
curl -fsS -H 'Host: bob.notes.localhost' "http://127.0.0.1:$hport/"
echo "== controller health =="
curl -fsS -H 'Host: localhost' "http://127.0.0.1:$hport/health"; echo

if [ "$check" = 1 ]; then
  echo "demo check passed"
  exit 0
fi
cat <<MSG

tenement is running (logs: $logfile, data: $data).
  curl -H 'Host: alice.notes.localhost' http://127.0.0.1:$hport/
  curl -H 'Host: bob.notes.localhost'   http://127.0.0.1:$hport/
  curl -X POST -H 'Host: carol.notes.localhost' http://127.0.0.1:$hport/   # unknown tenant: 404
Dashboard: http://localhost:$hport/ (or http://127.0.0.1:$cport/); sign in with a token from
  node dist/src/cli/ten.js token-gen --data-dir $data
Press Ctrl-C to stop everything.
MSG
wait "$pid"
