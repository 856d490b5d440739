#!/usr/bin/env bash
# Starts or stops the three Corroborate services in the background on loopback, with their
# logs under the state folder and their PIDs recorded; `stop` stops exactly those PIDs.
#
#   deploy/local/services.sh start|stop|status
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${CORROBORATE_STATE_DIR:-$ROOT/.local}"
PIDS="$STATE/pids"
LOGS="$STATE/logs"
ENV_FILE="$STATE/corroborate.env"
declare -A PORTS=(
    [intake]="${CORROBORATE_INTAKE_PORT:-8001}"
    [review]="${CORROBORATE_REVIEW_PORT:-8002}"
    [reporting]="${CORROBORATE_REPORTING_PORT:-8003}"
)
SERVICES=(intake review reporting)

TAG=services
# shellcheck source=deploy/local/lib.sh
source "$ROOT/deploy/local/lib.sh"
pattern() { echo "$1.bootstrap:create_app"; }

start() {
    [[ -f "$ENV_FILE" ]] || die "no $ENV_FILE: run deploy/local/stack.sh start first"
    mkdir -p "$PIDS" "$LOGS"
    export CORROBORATE_ENV_FILE="$ENV_FILE"
    export CORROBORATE_INTAKE_URL="http://127.0.0.1:${PORTS[intake]}"
    export CORROBORATE_REVIEW_URL="http://127.0.0.1:${PORTS[review]}"
    export CORROBORATE_REPORTING_URL="http://127.0.0.1:${PORTS[reporting]}"
    # Each service reaches only its own database and bucket in this namespace, and only its
    # own queues, with credentials of its own.
    "$ROOT/.venv/bin/corroborate" access grant >/dev/null \
        || die "could not grant the services their databases and buckets"
    mkdir -p "$STATE/access"
    for service in "${SERVICES[@]}"; do
        if alive "$service" "$(pattern "$service")"; then say "$service: already running"; continue; fi
        local own="$STATE/access/$service.env"
        (umask 077 && "$ROOT/.venv/bin/corroborate" access env "$service" > "$own")
        # The subshell reads the service's own credentials, then becomes uvicorn (same PID).
        (set -a && source "$own" && set +a && exec "$ROOT/.venv/bin/uvicorn" \
            --factory "$service.bootstrap:create_app" \
            --host 127.0.0.1 --port "${PORTS[$service]}" --no-access-log \
            --timeout-graceful-shutdown 25) >>"$LOGS/$service.log" 2>&1 &
        echo $! > "$PIDS/$service.pid"
    done
    for service in "${SERVICES[@]}"; do
        local url="http://127.0.0.1:${PORTS[$service]}"
        local deadline=$((SECONDS + 60))
        until "$ROOT/.venv/bin/python" -c "import sys,urllib.request as u; sys.exit(u.urlopen('$url/readyz', timeout=2).status != 200)" 2>/dev/null; do
            alive "$service" "$(pattern "$service")" || die "$service exited (log: $LOGS/$service.log)"
            (( SECONDS < deadline )) || die "$service not ready within 60s (log: $LOGS/$service.log)"
            sleep 0.5
        done
        say "$service: ready at $url (docs $url/docs, log $LOGS/$service.log)"
    done
}

stop() {
    # uvicorn drains requests (25 s), then the broker client lets handlers finish (20 s).
    for service in "${SERVICES[@]}"; do
        stop_recorded "$service" "$(pattern "$service")" 60
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status)
        for s in "${SERVICES[@]}"; do
            if alive "$s" "$(pattern "$s")"; then echo "$s: running (pid $(cat "$PIDS/$s.pid"), port ${PORTS[$s]})"
            else echo "$s: stopped"; fi
        done ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
