# Installs what tenement needs to build and run: npm dependencies, and Caddy (via apt-get when
# missing and we are root; otherwise a clear message). Sourced by scripts/test.sh and scripts/demo.sh.

ensure_node() {
  if ! command -v node >/dev/null 2>&1; then
    echo "tenement needs Node.js >= 20.19 (node not found on PATH)" >&2
    exit 1
  fi
  local major minor
  major=$(node -p 'process.versions.node.split(".")[0]')
  minor=$(node -p 'process.versions.node.split(".")[1]')
  if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
    echo "tenement needs Node.js >= 20.19, found $(node --version)" >&2
    exit 1
  fi
}

ensure_npm_deps() {
  # node_modules/.package-lock.json is npm's record of what is installed: equal lock files mean
  # nothing to do, which keeps repeated runs fast. Optional packages for other platforms (the
  # bundler's native builds for macOS, Windows...) are in the lock file but never installed here.
  if [ -f node_modules/.package-lock.json ] && node -e '
      const a = require("./package-lock.json").packages, b = require("./node_modules/.package-lock.json").packages;
      const libc = process.report.getReport().header.glibcVersionRuntime ? "glibc" : "musl";
      const elsewhere = (p) => (p.os && !p.os.includes(process.platform)) || (p.cpu && !p.cpu.includes(process.arch)) || (p.libc && !p.libc.includes(libc));
      for (const k of Object.keys(a)) {
        if (!k || (a[k].optional && !b[k] && elsewhere(a[k]))) continue;
        if (!b[k] || b[k].version !== a[k].version) process.exit(1);
      }
    ' 2>/dev/null; then
    return
  fi
  echo "installing npm dependencies (npm ci)..."
  npm ci --no-audit --no-fund
}

# Installs Debian packages (arguments are passed to apt-get install) when we are root and have
# apt-get. Returns 1 without installing anything otherwise, 2 when apt-get failed; the caller says
# what is missing and what it is for.
apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    return 1
  fi
  echo "installing $* (apt-get install -y $*)..."
  apt-get update -qq || { echo "apt-get update failed" >&2; return 2; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || { echo "apt-get install $* failed" >&2; return 2; }
}

ensure_caddy() {
  if command -v caddy >/dev/null 2>&1; then
    return
  fi
  if apt_install caddy; then
    # Debian's package enables a caddy.service listening on :80; tenement runs its own Caddy.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet caddy 2>/dev/null; then
      systemctl stop caddy || true
    fi
    return
  fi
  echo "Caddy is not installed. Install Caddy 2.6.2 or newer (Debian/Ubuntu: sudo apt-get install -y caddy)," >&2
  echo "or run this script as root to have it installed for you." >&2
  exit 1
}

# The socket-activation tests run the controller under systemd-socket-activate (Debian's systemd
# package); only the test suite needs it.
ensure_socket_activate() {
  command -v systemd-socket-activate >/dev/null 2>&1 && return
  apt_install systemd && return
  echo "systemd-socket-activate is missing (Debian/Ubuntu: sudo apt-get install -y systemd); the socket-activation tests need it" >&2
  exit 1
}

# Tenant isolation: bubblewrap for isolation = "namespace" (the default), nftables for the per-uid
# network rules, setpriv (util-linux) to drop to each instance's uid. Without them tenement still
# runs, and `ten config` and /health say what is not enforced; the tests need them.
ensure_isolation_tools() {
  local missing=()
  command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
  command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)
  command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
  [ "${#missing[@]}" -eq 0 ] && return
  apt_install "${missing[@]}" && return
  echo "missing for tenant isolation: ${missing[*]} (Debian/Ubuntu: sudo apt-get install -y ${missing[*]});" >&2
  echo "instances run with less isolation; see docs/isolation.md" >&2
}

# wrk generates the load of `npm run bench` (not needed by the tests).
ensure_wrk() {
  command -v wrk >/dev/null 2>&1 && return
  apt_install wrk && return
  echo "wrk is missing (Debian/Ubuntu: sudo apt-get install -y wrk); npm run bench needs it" >&2
  exit 1
}

# The dashboard's browser tests drive Debian's Chromium (playwright-core downloads no browser of its
# own); only the test suite needs it.
ensure_chromium() {
  [ -x "${TENEMENT_CHROMIUM:-/usr/bin/chromium}" ] && return
  apt_install --no-install-recommends chromium && return
  echo "chromium is missing (Debian/Ubuntu: sudo apt-get install -y chromium, or set TENEMENT_CHROMIUM); the dashboard's browser tests need it" >&2
  exit 1
}
