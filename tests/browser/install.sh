#!/usr/bin/env bash
# Installs puppeteer-core (pinned by package-lock.json) for form_test.mjs into
# a cache folder outside the source tree and outside ../shared:
#   $TORNADO_BROWSER_HOME, default ${XDG_CACHE_HOME:-$HOME/.cache}/tornado-cpp-browser
# Safe to re-run: `npm ci` runs only when node_modules does not match the lock
# file (a stamp holds the lock file's hash), so a second run takes well under
# a second. puppeteer-core never downloads a browser; the test drives Debian's
# /usr/bin/chromium. The Debian packages (chromium, nodejs, npm) come from
# scripts/install-deps; a missing one is an error here, not a skip.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BROWSER_HOME="${TORNADO_BROWSER_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/tornado-cpp-browser}"

fail() { echo "tests/browser/install.sh: $*" >&2; exit 1; }
for tool in node npm /usr/bin/chromium; do
    command -v "$tool" >/dev/null || fail "$tool is missing (run scripts/install-deps as root)"
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 18)) || fail "node >= 18 required (have $(node --version))"

mkdir -p "$BROWSER_HOME"
# One install at a time (several build trees may run their tests at once).
exec 9>"$BROWSER_HOME/.install.lock"
flock 9
cp "$HERE/package.json" "$HERE/package-lock.json" "$BROWSER_HOME/"
cd "$BROWSER_HOME"

# Puppeteer must never fetch a browser of its own.
export PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_EXECUTABLE_PATH=/usr/bin/chromium
stamp=node_modules/.tornado-install-stamp
want="$(sha256sum package-lock.json | cut -d' ' -f1) node-$node_major"
if [[ -f node_modules/puppeteer-core/package.json && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
    echo "tests/browser/install.sh: $BROWSER_HOME/node_modules up to date" >&2
else
    echo "tests/browser/install.sh: npm ci in $BROWSER_HOME" >&2
    npm ci --no-audit --no-fund --loglevel=error >&2
    echo "$want" > "$stamp"
fi
node -e 'console.error("tests/browser/install.sh: puppeteer-core " + require("puppeteer-core/package.json").version)'
