#!/usr/bin/env bash
# Stops the three services and whatever infrastructure up.sh started (by recorded PID).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/services.sh" stop
bash "$HERE/stack.sh" stop
