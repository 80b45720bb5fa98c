#!/usr/bin/env bash
# Issue 5, the tool's own features end to end (roamquic client <-> roamquic server on real
# sockets, captured and checked with tshark inside a namespace of the test's own):
#   --retry: the server validates the client's address with a Retry first (RFC 9000 §8.1.2);
#   --preferred-ipv4 / --preferred-ipv6: the client moves to the preferred address (§9.6),
#     and with --no-preferred-address it stays;
#   several URLs at once, one stream each; a missing file fails the run (exit 1) while the
#     others still arrive; the certificate is verified unless told otherwise.
source "$(dirname "$0")/lib.sh"
in_capture_netns
command -v tshark >/dev/null && command -v openssl >/dev/null || { echo "skip: tshark/openssl"; exit 77; }

make_cert
mkdir -p "$WORK/root"
for f in a b c; do head -c $((RANDOM * 50 + 100000)) /dev/urandom >"$WORK/root/$f.bin"; done
head -c 8M /dev/urandom >"$WORK/root/big.bin"
KEYS="--keylog $WORK/keys-rq.log"
client() { # options and URLs; stdout in $WORK/client.out, log in $WORK/client.log
    timeout 60 "$ROAMQUIC" client --ca "$WORK/cert.pem" --no-gso $KEYS --output "$WORK/dl" "$@" \
        >"$WORK/client.out" 2>"$WORK/client.log"
}
same() { cmp -s "$WORK/root/$1" "$WORK/dl/$1" || fail "$1 differs"; }

# Retry.
P=$(free_port)
start_server --listen "127.0.0.1:$P" --root "$WORK/root" --cert "$WORK/cert.pem" \
    --key "$WORK/key.pem" --retry --no-gso $KEYS
start_capture retry "$P"
client "https://localhost:$P/big.bin" || { cat "$WORK/client.log" >&2; fail "retry: client failed"; }
stop_capture
same big.bin
check_capture --server-port "$P" --retry
pass "--retry: a Retry, then the download"

# Several URLs at once, one of them missing.
rm -rf "$WORK/dl"
rc=0
client "https://localhost:$P/a.bin" "https://localhost:$P/b.bin" "https://localhost:$P/nothere" \
    "https://localhost:$P/c.bin" || rc=$?
[[ $rc -eq 1 ]] || fail "a missing file must fail the run (exit $rc)"
for f in a b c; do same $f.bin; done
grep -q "^FAIL /nothere status 404" "$WORK/client.out" || fail "the 404 is not reported"
[[ $(grep -c "^ok " "$WORK/client.out") -eq 3 ]] || fail "three files should be ok"
pass "four URLs at once: three arrive, the 404 fails the run"

# Certificate verification: the system store does not know our self-signed certificate.
rc=0
timeout 30 "$ROAMQUIC" client --discard "https://localhost:$P/a.bin" >/dev/null 2>"$WORK/err" || rc=$?
[[ $rc -eq 1 ]] && grep -q "handshake with localhost:$P failed" "$WORK/err" ||
    { cat "$WORK/err" >&2; fail "an unverifiable certificate must fail the handshake"; }
pass "an unknown certificate fails the handshake"
stop_server

# Preferred addresses: IPv4 (127.0.0.1 -> 127.0.0.2) and IPv6 (::1, another port).
P2=$(free_port)
start_server --listen "127.0.0.1:$P" --listen "[::1]:$P" --root "$WORK/root" --cert "$WORK/cert.pem" \
    --key "$WORK/key.pem" --preferred-ipv4 "127.0.0.2:$P2" --preferred-ipv6 "[::1]:$P2" --no-gso $KEYS
for v in 4 6; do
    host=127.0.0.1
    [[ $v == 6 ]] && host="[::1]"
    rm -rf "$WORK/dl"
    start_capture "preferred-v$v" "$P" "$P2"
    client "https://$host:$P/big.bin" || { cat "$WORK/client.log" >&2; fail "preferred v$v: client failed"; }
    stop_capture
    same big.bin
    check_capture --server-port "$P,$P2" --preferred-port "$P2"
    pass "the client follows the server's preferred IPv$v address"
done
rm -rf "$WORK/dl"
start_capture no-preferred "$P" "$P2"
client --no-preferred-address "https://127.0.0.1:$P/big.bin" || fail "no-preferred: client failed"
stop_capture
same big.bin
grep -q ":$P2 .*now carries" "$WORK/client.log" && fail "--no-preferred-address moved anyway"
[[ $(tshark -n -r "$CAPTURE_FILE" -Y "udp.dstport == $P2" 2>/dev/null | wc -l) -eq 0 ]] ||
    fail "--no-preferred-address: packets went to the preferred address"
check_capture --server-port "$P"
pass "--no-preferred-address: the client stays"
echo "all tool feature checks passed"
