# Shared by the tool tests (tests/cli/test_*.sh): a scratch directory, a roamquic server in the
# background and clean-up whatever happens. Every wait is bounded.
set -euo pipefail

ROAMQUIC=${1:?usage: $0 PATH-TO-roamquic}
WORK=$(mktemp -d /tmp/rq-cli.XXXXXX)
SERVER_PID=
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    [[ -n "${EXTRA_CLEANUP:-}" ]] && eval "$EXTRA_CLEANUP"
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# start_server ARGS...: starts `roamquic server ARGS` (prefixed by $NETNS_EXEC if set), waits up
# to 5 s for it to listen, and sets SERVER_PORT to the first listening port.
start_server() {
    ${NETNS_EXEC:-} "$ROAMQUIC" server "$@" 2>"$WORK/server.log" &
    SERVER_PID=$!
    for _ in $(seq 50); do
        if grep -q "listening on" "$WORK/server.log"; then
            SERVER_PORT=$(grep -m1 "listening on" "$WORK/server.log" | sed 's/.*:\([0-9]*\)$/\1/')
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; fail "server died"; }
        sleep 0.1
    done
    fail "server did not start"
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# expect_error STATUS PATTERN CMD...: CMD must exit with STATUS within 20 s and print exactly one
# line on stderr matching PATTERN.
expect_error() {
    local want=$1 pattern=$2
    shift 2
    local rc=0
    timeout 20 "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    [[ $rc -eq $want ]] || { cat "$WORK/err" >&2; fail "'$*' exited $rc, not $want"; }
    local lines
    lines=$(grep -vc '^\[' "$WORK/err" || true)   # log lines ("[  0.001] ...") aside
    [[ $lines -eq 1 ]] || { cat "$WORK/err" >&2; fail "'$*': $lines error lines, not 1"; }
    grep -v '^\[' "$WORK/err" | grep -q -- "$pattern" ||
        { cat "$WORK/err" >&2; fail "'$*': error does not say '$pattern'"; }
    pass "$* -> $rc: $(grep -v '^\[' "$WORK/err")"
}
