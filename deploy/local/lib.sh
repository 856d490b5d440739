# Shared by the local scripts: messages, and PID files that are checked before they are trusted.
# Source it after setting PIDS (the folder of PID files) and TAG (the message prefix).

say() { printf '[%s] %s\n' "$TAG" "$*"; }
die() { printf '[%s] error: %s\n' "$TAG" "$*" >&2; exit 1; }

# alive NAME PATTERN: the recorded process still runs, and is still the program we started
# (after a reboot a PID may belong to something else entirely).
alive() {
    local file="$PIDS/$1.pid" pattern="$2" pid
    [[ -f "$file" ]] || return 1
    pid="$(cat "$file")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"
}

# stop_pid LABEL PID SECONDS: SIGTERM, wait for a clean exit, SIGKILL only as a last resort.
stop_pid() {
    local label="$1" pid="$2" seconds="$3"
    kill -0 "$pid" 2>/dev/null || return 0
    say "$label: stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + seconds))
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
        say "$label: still running after ${seconds}s; killing pid $pid"
        kill -KILL "$pid" 2>/dev/null || true
    fi
}

# stop_recorded NAME PATTERN SECONDS: stop the process in NAME.pid if it is still ours.
stop_recorded() {
    local name="$1" pattern="$2" seconds="$3"
    if alive "$name" "$pattern"; then
        stop_pid "$name" "$(cat "$PIDS/$name.pid")" "$seconds"
    fi
    rm -f "$PIDS/$name.pid"
}
