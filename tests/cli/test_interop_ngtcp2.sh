#!/usr/bin/env bash
# Issue 5, interop on the wire with ngtcp2's own tools (Debian's ngtcp2-client/ngtcp2-server:
# gtlsclient, gtlsserver; HTTP/3 over GnuTLS), over real UDP on loopback, every exchange
# captured and decrypted with tshark (tests/interop/quic_capture.py: no malformed packet, no
# expert warning, decrypted 1-RTT packets, and the migration facts of each case):
#   gtlsclient -> roamquic server: download; active migration (RFC 9000 §9.2, fresh DCID §9.5,
#     the server challenges the new path §8.2); silent rebinding (§9.3, the server notices).
#   roamquic client -> gtlsserver: download with certificate verification; port change (§9.2);
#     preferred address over IPv4 and over IPv6 (§9.6).
# Skipped (77) when the tools are missing.
source "$(dirname "$0")/lib.sh"
in_capture_netns

for t in gtlsclient gtlsserver tshark openssl; do
    command -v $t >/dev/null || { echo "skip: $t missing"; exit 77; }
done
PEER_KEYS="$WORK/keys-peer.log"   # given to the peers as SSLKEYLOGFILE (GnuTLS honours it)
RQ_KEYS="$WORK/keys-rq.log"
make_cert
mkdir -p "$WORK/root" "$WORK/dl"
head -c 30M /dev/urandom >"$WORK/root/file.bin"
want=$(sha256sum <"$WORK/root/file.bin" | cut -d' ' -f1)

# ---- gtlsclient -> roamquic server ----
start_server --listen 127.0.0.1:0 --root "$WORK/root" --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
    --no-gso --keylog "$RQ_KEYS"

gtls_get() { # NAME gtlsclient-options...
    local name=$1
    shift
    rm -rf "$WORK/dl"/*
    start_capture "$name" "$SERVER_PORT"
    SSLKEYLOGFILE="$PEER_KEYS" timeout 60 gtlsclient -q --exit-on-all-streams-close --download "$WORK/dl" "$@" \
        127.0.0.1 "$SERVER_PORT" "https://127.0.0.1:$SERVER_PORT/file.bin" \
        >"$WORK/gtls.log" 2>&1 || { tail -20 "$WORK/gtls.log" >&2; fail "$name: gtlsclient failed"; }
    stop_capture
    [[ $(sha256sum <"$WORK/dl/file.bin" | cut -d' ' -f1) == "$want" ]] || fail "$name: hash mismatch"
}

gtls_get gtlsclient-download
check_capture --server-port "$SERVER_PORT"
pass "gtlsclient -> roamquic server: 30 MB, hash verified"

gtls_get gtlsclient-migrate --change-local-addr=20ms
check_capture --server-port "$SERVER_PORT" --min-tuples 2 --challenges --fresh-dcid
pass "gtlsclient -> roamquic server: active migration"

# gtlsclient 0.12 only sends when it has something to send: after a silent rebinding in a pure
# download it stays quiet and nobody can recover. A 5 MB request body keeps it sending, so the
# rebinding happens while data flows from the client (the server ignores bodies of GETs).
head -c 5M /dev/urandom >"$WORK/up.bin"
gtls_get gtlsclient-rebind --change-local-addr=20ms --nat-rebinding -m GET -d "$WORK/up.bin"
check_capture --server-port "$SERVER_PORT" --min-tuples 2 --challenges
grep -q "now carries the connection" "$WORK/server.log" || fail "the server did not follow the rebinding"
pass "gtlsclient -> roamquic server: silent NAT rebinding"
stop_server

# ---- roamquic client -> gtlsserver ----
PEER_PID=
start_gtlsserver() { # ADDR PORT options...
    local addr=$1 port=$2
    shift 2
    SSLKEYLOGFILE="$PEER_KEYS" gtlsserver -q -d "$WORK/root" --max-gso-dgrams=1 "$@" "$addr" "$port" "$WORK/key.pem" \
        "$WORK/cert.pem" >"$WORK/gtlsserver.log" 2>&1 &
    PEER_PID=$!
    sleep 0.3
    kill -0 "$PEER_PID" || { cat "$WORK/gtlsserver.log" >&2; fail "gtlsserver did not start"; }
}
stop_gtlsserver() {
    kill "$PEER_PID" 2>/dev/null || true
    wait "$PEER_PID" 2>/dev/null || true
    PEER_PID=
}
rq_get() { # NAME URL options...
    local name=$1 url=$2
    shift 2
    rm -rf "$WORK/dl"/*
    timeout 60 "$ROAMQUIC" client --ca "$WORK/cert.pem" --output "$WORK/dl" --no-gso \
        --keylog "$RQ_KEYS" "$@" "$url" \
        >"$WORK/client.out" 2>"$WORK/client.log" || { cat "$WORK/client.log" >&2; fail "$name: client failed"; }
    stop_capture
    [[ $(sha256sum <"$WORK/dl/file.bin" | cut -d' ' -f1) == "$want" ]] || fail "$name: hash mismatch"
}

P=$(free_port)
start_gtlsserver 127.0.0.1 "$P"
start_capture rq-download "$P"
rq_get rq-download "https://localhost:$P/file.bin"
check_capture --server-port "$P"
pass "roamquic client -> gtlsserver: 30 MB, certificate verified, hash verified"

start_capture rq-port-change "$P"
rq_get rq-port-change "https://localhost:$P/file.bin" --rebind-port-after 10M
check_capture --server-port "$P" --min-tuples 2 --challenges --fresh-dcid
pass "roamquic client -> gtlsserver: port change"
stop_gtlsserver

P2=$(free_port)
start_gtlsserver 127.0.0.1 "$P" --preferred-ipv4-addr="127.0.0.1:$P2"
start_capture rq-preferred-v4 "$P" "$P2"
rq_get rq-preferred-v4 "https://127.0.0.1:$P/file.bin"
check_capture --server-port "$P,$P2" --preferred-port "$P2"
pass "roamquic client -> gtlsserver: preferred address (IPv4)"
stop_gtlsserver

start_gtlsserver ::1 "$P" --preferred-ipv6-addr="[::1]:$P2"
start_capture rq-preferred-v6 "$P" "$P2"
rq_get rq-preferred-v6 "https://[::1]:$P/file.bin"
check_capture --server-port "$P,$P2" --preferred-port "$P2"
pass "roamquic client -> gtlsserver: preferred address (IPv6)"
stop_gtlsserver
echo "all ngtcp2 interop checks passed"
