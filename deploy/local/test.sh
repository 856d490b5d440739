#!/usr/bin/env bash
# The whole test suite against real servers: installs what is missing, starts a RabbitMQ (or
# reuses one that answers), SecantusDB, SeaweedFS and Glewlwyd on test ports with test data, runs the
# linters, the type checker and every test, and stops what it started even when tests fail.
#
#   deploy/local/test.sh [pytest arguments]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.local/bin:$PATH"
export UV_PYTHON_DOWNLOADS=never  # the machine's own Python 3.11+ is used

started=$(date +%s)
say() { printf '[test] %s\n' "$*"; }

"$ROOT/deploy/local/bootstrap.sh"

# Test servers live apart from a running `make up` stack: their own folder, ports and data.
export CORROBORATE_STATE_DIR="${CORROBORATE_TEST_STATE_DIR:-$ROOT/.local/test}"
export CORROBORATE_MONGO_PORT="${CORROBORATE_TEST_MONGO_PORT:-27027}"
export CORROBORATE_S3_PORT="${CORROBORATE_TEST_S3_PORT:-9010}"
export CORROBORATE_WEED_PORT_BASE="${CORROBORATE_TEST_WEED_PORT_BASE:-9433}"
export CORROBORATE_OIDC_PORT="${CORROBORATE_TEST_OIDC_PORT:-4594}"
# Where the browser tests run the services: the provider knows these as redirect URIs.
export CORROBORATE_INTAKE_URL="http://127.0.0.1:${CORROBORATE_TEST_INTAKE_PORT:-18001}"
export CORROBORATE_REVIEW_URL="http://127.0.0.1:${CORROBORATE_TEST_REVIEW_PORT:-18002}"
export CORROBORATE_REPORTING_URL="http://127.0.0.1:${CORROBORATE_TEST_REPORTING_PORT:-18003}"
export CORROBORATE_ENV_FILE="$CORROBORATE_STATE_DIR/corroborate.env"

cleanup() {
    local status=$?
    "$ROOT/deploy/local/stack.sh" stop || true
    say "finished in $(( $(date +%s) - started ))s with exit status $status"
    exit "$status"
}
trap cleanup EXIT
"$ROOT/deploy/local/stack.sh" start
"$ROOT/deploy/local/stack.sh" install-rabbitmq  # tests/faults runs a node of its own
"$ROOT/deploy/local/browser.sh"  # Chromium (Debian's) and axe-core for the browser tests

say "ruff check"
uv run --frozen ruff check .
say "ruff format --check"
uv run --frozen ruff format --check .
say "mypy --strict"
uv run --frozen mypy conftest.py shared/src shared/tests services/conftest.py \
    services/intake/src services/intake/tests services/review/src services/review/tests \
    services/reporting/src services/reporting/tests testing/src tests bench
say "import contracts (services never import each other)"
uv run --frozen lint-imports
say "pytest"
uv run --frozen pytest "$@"
