#!/usr/bin/env bash
# Local infrastructure without Docker, on loopback only: RabbitMQ, SecantusDB (MongoDB wire
# protocol), SeaweedFS (S3) and Glewlwyd (the OpenID Connect provider people sign in at). Idempotent: `start` installs what is missing, reuses a server
# that already answers, starts the rest, waits for each, and records the PIDs of what it
# started; `stop` stops exactly those PIDs.
#
# Least privilege: the env file holds the operator's credentials (tools, tests); each service
# gets its own broker user, database user and storage key (access.json), limited to what it
# owns (see shared/src/corroborate/access.py). The database requires authentication; the
# broker users are created with rabbitmqctl and removed again by `stop`.
#
#   deploy/local/stack.sh start|stop|status|install-rabbitmq
#
# Settings (environment): CORROBORATE_STATE_DIR (default .local), CORROBORATE_AMQP_URL,
# CORROBORATE_MONGO_PORT (27017), CORROBORATE_S3_PORT (9000) and CORROBORATE_WEED_PORT_BASE
# (master port, 9333; filer and volume ports follow from it), CORROBORATE_OIDC_PORT (4593).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${CORROBORATE_STATE_DIR:-$ROOT/.local}"
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
PIDS="$STATE/pids"
LOGS="$STATE/logs"
ENV_FILE="$STATE/corroborate.env"
MONGO_PORT="${CORROBORATE_MONGO_PORT:-27017}"
S3_PORT="${CORROBORATE_S3_PORT:-9000}"
WEED_BASE="${CORROBORATE_WEED_PORT_BASE:-9333}"
OIDC_PORT="${CORROBORATE_OIDC_PORT:-4593}"
VENV_BIN="$ROOT/.venv/bin"

TAG=stack
# shellcheck source=deploy/local/lib.sh
source "$ROOT/deploy/local/lib.sh"
RABBIT_PATTERN="rabbitmq-server"
MONGO_PATTERN="secantusd-py"
S3_PATTERN="weed"
OIDC_PATTERN="glewlwyd"
RABBITMQ_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # name, seconds, command...
    local name="$1" seconds="$2"; shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if (( SECONDS >= deadline )); then
            die "$name did not answer within ${seconds}s (logs: $LOGS)"
        fi
        sleep 0.5
    done
}

ping() { "$VENV_BIN/corroborate" ping "$@" --timeout 3 >/dev/null 2>&1; }

write_env_file() {
    # Secrets for this machine's local stack, generated once and kept out of git.
    if [[ -f "$ENV_FILE" ]]; then
        grep -q '^CORROBORATE_ACCESS_FILE=' "$ENV_FILE" || die "$ENV_FILE predates per-service \
credentials; move it (and $STATE/mongo, $STATE/seaweedfs) aside and start again"
        return
    fi
    say "generating local keys in $STATE"
    # retryWrites=false for the local stand-in only: SecantusDB keeps a record of every retryable
    # write and on each write scans them all (and sorts them once there are 10,000), so every
    # write got slower as the stack ran. Without it a write that meets a network error fails
    # instead of being sent once more by the driver; on loopback that is rare, and the services
    # already retry what fails (redelivered events, the outbox relay's next pass).
    "$VENV_BIN/corroborate" keys init --dir "$STATE" \
        --mongo-url "mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true&retryWrites=false" \
        --s3-endpoint "127.0.0.1:$S3_PORT" \
        ${CORROBORATE_AMQP_URL:+--amqp-url "$CORROBORATE_AMQP_URL"}
}

load_env() {
    set -a
    # shellcheck disable=SC1090
    source "$ENV_FILE"
    set +a
}

# The node behind the configured AMQP port, for rabbitmqctl: ours, another local stack's, or
# the machine's own broker (rabbitmqctl's default node).
rabbit_node_args() {
    local amqp_port="$1"
    if epmd -names 2>/dev/null | grep -q "^name corroborate-$amqp_port "; then
        echo "-n corroborate-$amqp_port@localhost"
    fi
}

provision_rabbitmq() {
    # Each service's own broker user, limited to its queues and the shared exchanges.
    local amqp_port definitions="$STATE/access/rabbitmq.json"
    amqp_port="$("$VENV_BIN/python" -c 'import os,urllib.parse as u; print(u.urlparse(os.environ["CORROBORATE_AMQP_URL"]).port or 5672)')"
    mkdir -p "$STATE/access"
    "$VENV_BIN/corroborate" access rabbitmq-definitions --out "$definitions"
    local node; node="$(rabbit_node_args "$amqp_port")"
    # shellcheck disable=SC2086
    command -v rabbitmqctl >/dev/null && timeout 60 rabbitmqctl $node -q import_definitions \
        --format json <"$definitions" >"$LOGS/rabbitmq-access.log" 2>&1 \
        || die "could not create the services' broker users with rabbitmqctl (run as root, or \
point CORROBORATE_AMQP_URL at a broker you administer); see $LOGS/rabbitmq-access.log"
    rm -f "$definitions"
    echo "$node" > "$STATE/access/rabbitmq-node"
    say "rabbitmq: each service has its own user, limited to its own queues"
}

remove_rabbitmq_users() {
    local marker="$STATE/access/rabbitmq-node"
    [[ -f "$marker" ]] || return 0
    local node user; node="$(cat "$marker")"
    for user in $("$VENV_BIN/corroborate" access rabbitmq-users); do
        # shellcheck disable=SC2086
        timeout 30 rabbitmqctl $node -q delete_user "$user" >/dev/null 2>&1 || true
    done
    rm -f "$marker"
}

install_rabbitmq() {
    [[ -x "$RABBITMQ_SERVER" ]] && return
    [[ "$(id -u)" == 0 ]] || die "rabbitmq-server is not installed; run as root to install it"
    say "installing rabbitmq-server (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null
    # Where an init system runs it, the package starts a system broker (and Erlang's port
    # mapper) on every interface, and again at each boot; this project runs its own on loopback.
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
        systemctl disable --now rabbitmq-server epmd.socket epmd.service >/dev/null 2>&1 || true
    fi
}

start_rabbitmq() {
    if ping amqp; then
        say "rabbitmq: reusing the broker that answers at the configured URL"
        return
    fi
    if alive rabbitmq "$RABBIT_PATTERN"; then
        wait_for rabbitmq 90 ping amqp
        return
    fi
    install_rabbitmq
    local dir="$STATE/rabbitmq"
    mkdir -p "$dir/mnesia" "$dir/log"
    local amqp_port
    amqp_port="$("$VENV_BIN/python" -c 'import os,urllib.parse as u; print(u.urlparse(os.environ["CORROBORATE_AMQP_URL"]).port or 5672)')"
    cat > "$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$amqp_port
loopback_users.guest = true
log.file.level = warning
CONF
    echo '[].' > "$dir/enabled_plugins"
    port_open 4369 || touch "$dir/epmd-started-here"
    say "rabbitmq: starting on 127.0.0.1:$amqp_port (data in $dir)"
    # The broker runs in the foreground of its own start script, whose PID we keep: SIGTERM to
    # it stops the node cleanly. Erlang's port mapper and distribution port stay on loopback.
    RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" \
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
        RABBITMQ_NODENAME="corroborate-$amqp_port@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_DIST_PORT=$((amqp_port + 20000)) ERL_EPMD_ADDRESS=127.0.0.1 \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
        RABBITMQ_PID_FILE="$dir/beam.pid" \
        "$RABBITMQ_SERVER" >"$LOGS/rabbitmq.out" 2>&1 &
    echo $! > "$PIDS/rabbitmq.pid"
    wait_for rabbitmq 120 ping amqp
}

run_mongo() { # extra secantusd-py flags...
    "$VENV_BIN/secantusd-py" --host 127.0.0.1 --port "$MONGO_PORT" --storage-path "$STATE/mongo" \
        --log-level WARNING "$@" >>"$LOGS/secantusdb.log" 2>&1 &
    echo $! > "$PIDS/mongo.pid"
}

start_mongo() {
    if alive mongo "$MONGO_PATTERN"; then say "secantusdb: already running"; return; fi
    if ping mongo; then say "secantusdb: reusing the server on port $MONGO_PORT"; return; fi
    mkdir -p "$STATE/mongo"
    if [[ ! -f "$STATE/mongo/.operator-created" ]]; then
        # First start: create the operator's user while the server still runs without
        # authentication (on loopback, for these seconds only), then restart it requiring it.
        say "secantusdb: creating the operator's user"
        run_mongo
        "$VENV_BIN/corroborate" access create-operator >/dev/null \
            || die "could not create the database operator (log: $LOGS/secantusdb.log)"
        stop_recorded mongo "$MONGO_PATTERN" 30
        touch "$STATE/mongo/.operator-created"
    fi
    say "secantusdb: starting on 127.0.0.1:$MONGO_PORT with authentication (data in $STATE/mongo)"
    run_mongo --auth
    wait_for secantusdb 60 ping mongo
}

start_s3() {
    if alive s3 "$S3_PATTERN"; then say "seaweedfs: already running"; return; fi
    if ping s3; then say "seaweedfs: reusing the S3 server on port $S3_PORT"; return; fi
    local dir="$STATE/seaweedfs"
    mkdir -p "$dir/data" "$dir/log"
    # The operator's identity, and one per service limited to that service's own buckets.
    "$VENV_BIN/corroborate" access s3-identities --out "$dir/identities.json"
    say "seaweedfs: starting S3 on 127.0.0.1:$S3_PORT (data in $dir)"
    "$VENV_BIN/weed" -logdir="$dir/log" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port="$S3_PORT" -master.port="$WEED_BASE" -filer.port=$((WEED_BASE - 445)) \
        -volume.port=$((WEED_BASE - 1253)) -admin.port=$((WEED_BASE + 14313)) \
        -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$dir/identities.json" \
        -webdav=false -admin.ui=false -master.telemetry=false >"$LOGS/seaweedfs.out" 2>&1 &
    echo $! > "$PIDS/s3.pid"
    wait_for seaweedfs 90 ping s3
}

install_glewlwyd() {
    command -v glewlwyd >/dev/null && return
    [[ "$(id -u)" == 0 ]] || die "glewlwyd is not installed; run as root to install it"
    say "installing glewlwyd (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends glewlwyd >/dev/null
    # The package's own service would listen on every interface; this stack runs its own.
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
        systemctl disable --now glewlwyd >/dev/null 2>&1 || true
    fi
}

# Glewlwyd's data, configuration and sign-in pages live under the state folder: a SQLite
# database made from the package's schema, a copy of its web pages with their settings, and
# a configuration listening on loopback only.
prepare_glewlwyd() {
    local dir="$1"
    rm -rf "$dir/web"  # the package's pages, copied afresh at each start
    mkdir -p "$dir/web"
    if [[ ! -f "$dir/glewlwyd.db" ]]; then
        "$VENV_BIN/python" -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).executescript(open(sys.argv[2]).read())' \
            "$dir/glewlwyd.db" /usr/share/dbconfig-common/data/glewlwyd/install/sqlite3
    fi
    cp -rL /usr/share/glewlwyd/webapp/. "$dir/web/"  # its links point into other packages
    rm -rf "$dir/web/config.json"  # the package links it to a folder
    cp /etc/glewlwyd/config-2.7.json/config.json "$dir/web/config.json"
    "$VENV_BIN/python" - "$dir" "$OIDC_PORT" <<'PY'
import re, sys
folder, port = sys.argv[1], sys.argv[2]
text = open("/etc/glewlwyd/glewlwyd.conf").read()
settings = {
    "port": port,
    "bind_address": '"127.0.0.1"',
    "external_url": f'"http://127.0.0.1:{port}"',
    "log_mode": '"file"',
    "log_file": f'"{folder}/glewlwyd.log"',
    "log_level": '"WARNING"',
    "static_files_path": f'"{folder}/web/"',
    "allow_origin": '"http://127.0.0.1"',
}
for key, value in settings.items():
    text, found = re.subn(rf"^#?\s*{key}\s*=.*$", f"{key}={value}", text, flags=re.M)
    if not found:
        text = f"{key}={value}\n" + text
database = f'database =\n{{\n  type = "sqlite3"\n  path = "{folder}/glewlwyd.db"\n}};'
text = text.replace('@include "/etc/glewlwyd/glewlwyd-db.conf"', database)
open(f"{folder}/glewlwyd.conf", "w").write(text)
PY
}

start_oidc() {
    local dir="$STATE/glewlwyd" url="http://127.0.0.1:$OIDC_PORT"
    if alive oidc "$OIDC_PATTERN"; then
        say "glewlwyd: already running"
    else
        port_open "$OIDC_PORT" && die "port $OIDC_PORT is taken; set CORROBORATE_OIDC_PORT"
        install_glewlwyd
        prepare_glewlwyd "$dir"
        say "glewlwyd: starting the OpenID Connect provider on $url (data in $dir)"
        glewlwyd --config-file="$dir/glewlwyd.conf" >"$LOGS/glewlwyd.out" 2>&1 &
        echo $! > "$PIDS/oidc.pid"
        wait_for glewlwyd 30 "$VENV_BIN/python" -c \
            'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$url/login.html"
    fi
    "$VENV_BIN/corroborate" provider setup --url "$url" --state "$dir/secrets" \
        --env-file "$ENV_FILE" >"$LOGS/glewlwyd-setup.log" 2>&1 \
        || die "could not set up the OpenID Connect provider; see $LOGS/glewlwyd-setup.log"
    say "glewlwyd: $(tail -n 1 "$LOGS/glewlwyd-setup.log")"
}

stop_rabbitmq() {
    local beam_file="$STATE/rabbitmq/beam.pid"
    stop_recorded rabbitmq "$RABBIT_PATTERN" 60
    # The start script forwards SIGTERM to the Erlang VM; if the VM outlived it, stop the VM.
    if [[ -f "$beam_file" ]]; then
        local beam; beam="$(cat "$beam_file")"
        if [[ "$beam" =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$beam/cmdline" 2>/dev/null | grep -q beam; then
            stop_pid rabbitmq-vm "$beam" 30
        fi
        rm -f "$beam_file"
    fi
}

status() {
    local name pattern
    for name in rabbitmq mongo s3 oidc; do
        case "$name" in
            rabbitmq) pattern="$RABBIT_PATTERN" ;; mongo) pattern="$MONGO_PATTERN" ;;
            s3) pattern="$S3_PATTERN" ;; oidc) pattern="$OIDC_PATTERN" ;;
        esac
        if alive "$name" "$pattern"; then echo "$name: running (pid $(cat "$PIDS/$name.pid"))"
        else echo "$name: not started by this stack"; fi
    done
}

case "${1:-}" in
    start)
        mkdir -p "$PIDS" "$LOGS"
        [[ -x "$VENV_BIN/corroborate" ]] || die "run deploy/local/bootstrap.sh first"
        write_env_file
        load_env
        start_rabbitmq
        provision_rabbitmq
        start_mongo
        start_s3
        start_oidc
        say "infrastructure ready: amqp, mongodb://127.0.0.1:$MONGO_PORT, s3 http://127.0.0.1:$S3_PORT, oidc http://127.0.0.1:$OIDC_PORT"
        ;;
    stop)
        stop_recorded oidc "$OIDC_PATTERN" 30
        stop_recorded s3 "$S3_PATTERN" 30
        stop_recorded mongo "$MONGO_PATTERN" 30
        if [[ -f "$ENV_FILE" ]]; then load_env; remove_rabbitmq_users; fi
        stop_rabbitmq
        if [[ -f "$STATE/rabbitmq/epmd-started-here" ]]; then
            # Erlang's port mapper outlives the broker; stop it only if this stack started it
            # and no other Erlang node still uses it.
            epmd -names 2>/dev/null | grep -q "^name " || epmd -kill >/dev/null 2>&1 || true
            rm -f "$STATE/rabbitmq/epmd-started-here"
        fi
        ;;
    status) status ;;
    # The fault suite starts (and kills) a RabbitMQ node of its own, even where a shared
    # broker already answers and `start` therefore installed nothing.
    install-rabbitmq) install_rabbitmq ;;
    *) echo "usage: $0 start|stop|status|install-rabbitmq" >&2; exit 2 ;;
esac
