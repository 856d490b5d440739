#!/usr/bin/env bash
# Brings the whole local stack up: dependencies, infrastructure, and the three services.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/bootstrap.sh"
bash "$HERE/stack.sh" start
bash "$HERE/services.sh" start
echo "Corroborate is up. Try: make demo   (stop with: make down)"
