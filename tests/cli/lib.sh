# Shared by the tool tests (tests/cli/test_*.sh): a scratch directory, a roamquic server in the
# background and clean-up whatever happens. Every wait is bounded.
set -euo pipefail

ROAMQUIC=${1:?usage: $0 PATH-TO-roamquic}
WORK=$(mktemp -d /tmp/rq-cli.XXXXXX)
SERVER_PID=
cleanup() {
    [[ -n "${CAPTURE_PID:-}" ]] && kill "$CAPTURE_PID" 2>/dev/null
    [[ -n "${PEER_PID:-}" ]] && kill "$PEER_PID" 2>/dev/null && wait "$PEER_PID" 2>/dev/null
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    [[ -n "${EXTRA_CLEANUP:-}" ]] && eval "$EXTRA_CLEANUP"
    if [[ -n "${RQ_KEEP_WORK:-}" ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
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

# free_port: a UDP port nobody uses now on 127.0.0.1 (for peers that want one given).
free_port() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# make_cert: a self-signed ECDSA certificate for localhost, 127.0.0.1 and ::1 in $WORK.
make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
        -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || fail "openssl req failed"
}

# start_capture NAME PORT...: tshark on lo for those UDP ports into $WORK/NAME.pcapng; returns
# once the capture demonstrably runs (at most 10 s): "Capture started" comes before the kernel
# ring is ready, so marker datagrams (one byte, to port 9, also captured, never QUIC) go out
# until the file holds one. stop_capture ends it.
CAPTURE_PID=
start_capture() {
    local name=$1 filter="udp port 9" p size0 size
    shift
    for p in "$@"; do filter="$filter or udp port $p"; done
    CAPTURE_FILE="$WORK/$name.pcapng"
    # A large kernel buffer (-B, MB): loopback runs at hundreds of MB/s and a dropped packet,
    # the handshake's above all, makes the decryption checks meaningless.
    tshark -i lo -B 64 -f "$filter" -w "$CAPTURE_FILE" >"$WORK/tshark.log" 2>&1 &
    CAPTURE_PID=$!
    for _ in $(seq 100); do
        grep -q "Capture started\|Capturing on" "$WORK/tshark.log" && [[ -s "$CAPTURE_FILE" ]] && break
        sleep 0.1
    done
    size0=$(stat -c %s "$CAPTURE_FILE" 2>/dev/null || echo 0)
    for _ in $(seq 100); do
        echo -n x >/dev/udp/127.0.0.1/9 2>/dev/null || true
        sleep 0.1
        size=$(stat -c %s "$CAPTURE_FILE" 2>/dev/null || echo 0)
        ((size > size0)) && return 0
    done
    fail "tshark did not start capturing: $(tail -1 "$WORK/tshark.log")"
}
stop_capture() {
    sleep 0.2   # the last packets
    kill -INT "$CAPTURE_PID" 2>/dev/null || true
    wait "$CAPTURE_PID" 2>/dev/null || true
    CAPTURE_PID=
    if grep -q "packets dropped" "$WORK/tshark.log"; then
        fail "the capture lost packets ($(grep -o '[0-9]* packets dropped' "$WORK/tshark.log")): its checks would mean nothing"
    fi
}

# check_capture ARGS...: tests/interop/quic_capture.py on the last capture with the key logs.
# Each process writes its own key log ($WORK/keys-*.log: two writers appending to one file can
# interleave a line), joined here.
check_capture() {
    cat "$WORK"/keys-*.log >"$WORK/keys.log" 2>/dev/null || true
    python3 "$(dirname "${BASH_SOURCE[0]}")/../interop/quic_capture.py" "$CAPTURE_FILE" \
        --keylog "$WORK/keys.log" "$@" || fail "capture check failed ($CAPTURE_FILE)"
}

# in_capture_netns: re-runs the calling test inside a network namespace of its own whose
# loopback segments UDP GSO bursts before the capture point (ethtool tx-udp-segmentation off),
# so that tshark sees each datagram (peers like gtlsclient send GSO bursts and have no switch
# for it); the namespace is removed afterwards. Skips (77) without root, ip or ethtool.
in_capture_netns() {
    [[ -n "${RQ_IN_NETNS:-}" ]] && return 0
    [[ $(id -u) -eq 0 ]] && command -v ip >/dev/null && command -v ethtool >/dev/null ||
        { echo "skip: needs root, ip and ethtool"; exit 77; }
    local ns=rq-cap-$$ rc=0
    ip netns add "$ns"
    EXTRA_CLEANUP="ip netns del $ns 2>/dev/null"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" ethtool -K lo tx-udp-segmentation off >/dev/null
    RQ_IN_NETNS=1 ip netns exec "$ns" bash "$0" "$ROAMQUIC" || rc=$?
    exit $rc
}
