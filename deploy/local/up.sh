#!/usr/bin/env bash
# Brings the whole local stack up: dependencies, infrastructure, and the three services.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/bootstrap.sh"
# If anything fails on the way up, stop what this run started rather than leave it half up.
trap 'echo "[up] failed; stopping what was started" >&2; bash "$HERE/down.sh"' ERR
bash "$HERE/stack.sh" start
bash "$HERE/services.sh" start
trap - ERR
echo "Corroborate is up. Try: make demo   (stop with: make down)"
