#!/usr/bin/env bash
# Issue 5, interop on the wire with quiche (0.18, through the npm package @matrixai/quic 2.0.9;
# tests/interop/quiche/server.js is a small hq-interop file server on it). Its server always
# validates addresses with a Retry (RFC 9000 §8.1.2): the roamquic client downloads a file
# through it, certificate verified, hash verified, and the capture (decrypted with both key
# logs) shows a Retry, an Initial carrying its token, decrypted 1-RTT packets and nothing
# malformed. Skipped (77) when tshark, node or openssl is missing.
source "$(dirname "$0")/lib.sh"

for t in node npm tshark openssl; do
    command -v $t >/dev/null || { echo "skip: $t missing"; exit 77; }
done
QUICHE="$(cd "$(dirname "$0")/../interop/quiche" && pwd)"
# Installed from the npm registry before entering the namespace (it has no network).
if [[ -z "${RQ_IN_NETNS:-}" ]]; then
    timeout 360 "$QUICHE/setup.sh" || fail "could not install @matrixai/quic"
fi
in_capture_netns
make_cert
mkdir -p "$WORK/root" "$WORK/dl"
head -c 8M /dev/urandom >"$WORK/root/file.bin"
want=$(sha256sum <"$WORK/root/file.bin" | cut -d' ' -f1)

timeout 300 node "$QUICHE/server.js" --host 127.0.0.1 --port 0 --root "$WORK/root" \
    --cert "$WORK/cert.pem" --key "$WORK/key.pem" --keylog "$WORK/keys-peer.log" \
    >"$WORK/quiche.out" 2>"$WORK/quiche.log" &
PEER_PID=$!
for _ in $(seq 100); do
    P=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]\+\)$/\1/p' "$WORK/quiche.out")
    [[ -n "$P" ]] && break
    kill -0 "$PEER_PID" 2>/dev/null || { cat "$WORK/quiche.log" >&2; fail "quiche server died"; }
    sleep 0.1
done
[[ -n "$P" ]] || fail "the quiche server did not start"

start_capture quiche-retry "$P"
timeout 60 "$ROAMQUIC" client --ca "$WORK/cert.pem" --alpn hq-interop --output "$WORK/dl" \
    --keylog "$WORK/keys-rq.log" "https://localhost:$P/file.bin" >"$WORK/client.out" \
    2>"$WORK/client.log" || { cat "$WORK/client.log" "$WORK/quiche.log" >&2; fail "client failed"; }
stop_capture
[[ $(sha256sum <"$WORK/dl/file.bin" | cut -d' ' -f1) == "$want" ]] || fail "hash mismatch"
grep -q "^quiche-server: retry " "$WORK/quiche.log" || fail "the quiche server logged no Retry"
check_capture --server-port "$P" --retry
pass "roamquic client -> quiche server: 8 MB through a Retry, certificate and hash verified"
echo "all quiche interop checks passed"
