#!/usr/bin/env bash
# Installs what Corroborate needs on a fresh Debian/Ubuntu machine with Python 3.11+:
# uv, the locked Python dependencies (including the local database and S3 servers), and the
# system libraries the PDF renderer uses. RabbitMQ is installed by stack.sh only when no broker
# answers. Safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
say() { printf '[bootstrap] %s\n' "$*"; }

if ! command -v uv >/dev/null 2>&1; then
    export PATH="$HOME/.local/bin:$PATH"
fi
if ! command -v uv >/dev/null 2>&1; then
    if ! python3 -m pip --version >/dev/null 2>&1; then
        [[ "$(id -u)" == 0 ]] || { say "error: python3-pip is missing; install it or uv"; exit 1; }
        say "installing pip (Debian package python3-pip)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
    fi
    say "installing uv"
    python3 -m pip install --quiet --user uv 2>/dev/null \
        || python3 -m pip install --quiet --user --break-system-packages uv
    export PATH="$HOME/.local/bin:$PATH"
fi

# WeasyPrint renders the medico-legal report through Pango and HarfBuzz (subset, to embed
# only the glyphs used); fonts make it legible.
if ! ldconfig -p 2>/dev/null | grep libpangoft2-1.0.so.0 >/dev/null \
    || ! ldconfig -p 2>/dev/null | grep libharfbuzz-subset.so.0 >/dev/null \
    || ! fc-list 2>/dev/null | grep -i dejavu >/dev/null; then
    if [[ "$(id -u)" == 0 ]]; then
        say "installing Pango and fonts (Debian packages)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
            libharfbuzz-subset0 fonts-dejavu-core fontconfig >/dev/null
    else
        say "warning: install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core"
    fi
fi

cd "$ROOT"
say "syncing Python dependencies from uv.lock"
# The machine's own Python (3.11 or newer) is used: uv must not try to download one.
export UV_PYTHON_DOWNLOADS=never
uv sync --frozen --all-packages --quiet
