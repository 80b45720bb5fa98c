#!/usr/bin/env bash
# Issue 5, loopback tests: a 100 MB file (RQ_CLI_MB overrides) downloaded with the client's
# port changed in the middle, then with the client moving from 127.0.0.1 to 127.0.0.2 in the
# middle (RFC 9000 §9.2: probe, switch, fresh connection ID), once per application protocol;
# every file hash-verified, and both ends' logs show the move.
source "$(dirname "$0")/lib.sh"

MB=${RQ_CLI_MB:-100}
ALPNS=${RQ_CLI_ALPNS:-hq-interop h3}
mkdir -p "$WORK/root"
head -c "${MB}M" /dev/urandom >"$WORK/root/big"
want=$(sha256sum <"$WORK/root/big" | cut -d' ' -f1)
start_server --listen 127.0.0.1:0 --root "$WORK/root"

try_run() {
    local name=$1 alpn=$2
    shift 2
    rm -rf "$WORK/out"
    local t0=$SECONDS
    timeout 120 "$ROAMQUIC" client --insecure --alpn "$alpn" --output "$WORK/out" "$@" \
        "https://127.0.0.1:$SERVER_PORT/big" >"$WORK/client.out" 2>"$WORK/client.log" ||
        { cat "$WORK/client.log" "$WORK/client.out" >&2; fail "$name ($alpn): client failed"; }
    local got
    got=$(sha256sum <"$WORK/out/big" | cut -d' ' -f1)
    [[ "$got" == "$want" ]] || fail "$name ($alpn): hash mismatch"
    grep -q "probing" "$WORK/client.log" || { cat "$WORK/client.log" >&2; fail "$name: no probe"; }
    grep -q "now carries the connection" "$WORK/client.log" || return 1
    pass "$name ($alpn): $MB MB in $((SECONDS - t0)) s, hash verified, moved"
}

# A lost PATH_CHALLENGE or PATH_RESPONSE is retried a new path's PTO later (kInitialRtt:
# about 1 s, RFC 9000 §8.2.1), longer than the rest of a loopback transfer: the file then
# arrives whole without the move. Seen about once in ten runs; one more attempt, said aloud.
run() {
    try_run "$@" && return 0
    echo "note: $1 ($2): the transfer ended before the probe was answered; once more" >&2
    grep "^\[" "$WORK/client.log" >&2
    try_run "$@" || fail "$1 ($2): no move, twice"
}

half=$((MB / 2))M
for alpn in $ALPNS; do
    run "port change" "$alpn" --rebind-port-after "$half"
    grep "port change: probing" "$WORK/client.log"
    run "127.0.0.1 -> 127.0.0.2" "$alpn" --migrate-to 127.0.0.2 --migrate-after "$half"
    grep -q "move: probing 127.0.0.2:" "$WORK/client.log" || fail "did not probe from 127.0.0.2"
    grep -q "(127.0.0.2:[0-9]*) now carries the connection" "$WORK/server.log" ||
        fail "the server did not follow to 127.0.0.2"
done

# qlog: both ends write JSON-SEQ with the path events (a smaller run: qlog logs every packet).
stop_server
start_server --listen 127.0.0.1:0 --gen-max 4M --qlog-dir "$WORK/qlog"
timeout 60 "$ROAMQUIC" client --insecure --alpn hq-interop --discard --qlog-dir "$WORK/qlog" \
    --rebind-port-after 1M "https://127.0.0.1:$SERVER_PORT/4000000" >/dev/null 2>"$WORK/client.log" ||
    { cat "$WORK/client.log" >&2; fail "qlog run failed"; }
stop_server
for role in client server; do
    python3 "$(dirname "$0")/../interop/qlog_check.py" "$WORK/qlog" --role $role \
        --event quic:tuple_assigned --event quic:migration_state_updated || fail "$role qlog"
done
pass "qlog files of both ends parse as JSON-SEQ and hold the path events"
echo "all loopback transfers passed"
