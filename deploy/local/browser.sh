#!/usr/bin/env bash
# What the browser tests need: Debian's Chromium (Playwright drives it; it never downloads a
# browser of its own) and axe-core's axe.min.js from npm, kept under the state folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${CORROBORATE_STATE_DIR:-$ROOT/.local}"
AXE_VERSION=4.14.1
TAG=browser
PIDS="$STATE/pids"
# shellcheck source=deploy/local/lib.sh
source "$ROOT/deploy/local/lib.sh"

if [[ ! -x /usr/bin/chromium ]]; then
    [[ "$(id -u)" == 0 ]] || die "chromium is not installed; run as root to install it"
    say "installing chromium (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

vendor="$STATE/vendor"
if [[ ! -f "$vendor/axe.min.js" || "$(cat "$vendor/axe.version" 2>/dev/null)" != "$AXE_VERSION" ]]; then
    if ! command -v npm >/dev/null; then
        [[ "$(id -u)" == 0 ]] || die "npm is needed to fetch axe-core; run as root to install it"
        say "installing npm (Debian package)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends npm >/dev/null
    fi
    say "fetching axe-core $AXE_VERSION from npm"
    mkdir -p "$vendor"
    work="$(mktemp -d)"
    (cd "$work" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null && tar -xzf axe-core-*.tgz)
    cp "$work/package/axe.min.js" "$vendor/axe.min.js"
    echo "$AXE_VERSION" > "$vendor/axe.version"
    rm -rf "$work"
fi
