#!/usr/bin/env bash
# Brings the whole local stack up: dependencies, infrastructure, and the three services.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/bootstrap.sh"
# If anything fails on the way up, stop what this run started rather than leave it half up.
trap 'echo "[up] failed; stopping what was started" >&2; bash "$HERE/down.sh"' ERR
bash "$HERE/stack.sh" start
bash "$HERE/services.sh" start
ROOT="$(cd "$HERE/../.." && pwd)"
STATE="${CORROBORATE_STATE_DIR:-$ROOT/.local}"
# The demo people and their organisations, in intake's directory, so each can sign in.
CORROBORATE_ENV_FILE="${CORROBORATE_ENV_FILE:-$STATE/corroborate.env}" \
    "$ROOT/.venv/bin/corroborate" provider enrol --state "$STATE/glewlwyd/secrets"
trap - ERR
echo "Corroborate is up. Try: make demo   (stop with: make down)"
echo "Sign in (the provider is http://127.0.0.1:${CORROBORATE_OIDC_PORT:-4593}):"
echo "  partners and administrators      http://127.0.0.1:${CORROBORATE_INTAKE_PORT:-8001}/"
echo "  coordinators and clinicians      http://127.0.0.1:${CORROBORATE_REVIEW_PORT:-8002}/"
echo "  legal, analysts and managers     http://127.0.0.1:${CORROBORATE_REPORTING_PORT:-8003}/"
echo "(password, then the code from an authenticator app holding their TOTP secret; the demo"
echo "people, with the code each would see now: $ROOT/.venv/bin/corroborate provider people --state $STATE/glewlwyd/secrets):"
"$ROOT/.venv/bin/corroborate" provider people --state "$STATE/glewlwyd/secrets"
