#!/usr/bin/env bash
# Bulk download over real UDP on loopback: roamquic server -> roamquic client against ngtcp2's
# own tools (gtlsserver -> gtlsclient, ngtcp2 0.12.1 over GnuTLS, HTTP/3), the same file from
# the same tmpfs in the same run, both with GSO on where each supports it. Reports each
# side's median of RQ_BENCH_RUNS (default 5) runs in MB/s and their ratio; with ALPN=h3 both
# speak HTTP/3. Also the same roamquic download with a port change in the middle.
# usage: bench/bench_loopback.sh PATH-TO-roamquic [MB]
set -euo pipefail
RQ=${1:?usage: $0 PATH-TO-roamquic [MB]}
MB=${2:-200}
RUNS=${RQ_BENCH_RUNS:-5}
ALPN=${ALPN:-h3}
W=$(mktemp -d /dev/shm/rq-bench.XXXXXX 2>/dev/null || mktemp -d /tmp/rq-bench.XXXXXX)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; rm -rf "$W"' EXIT
head -c "${MB}M" /dev/urandom >"$W/file.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null
port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate() { # seconds -> MB/s
    awk -v mb="$MB" -v s="$1" 'BEGIN {printf "%.1f", mb * 1.048576 / s}'
}
timed() { # command... -> seconds on stdout
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f\n", b - a}'
}

P=$(port)
"$RQ" server --quiet --listen "127.0.0.1:$P" --root "$W" --cert "$W/cert.pem" --key "$W/key.pem" &
PIDS+=($!)
Q=$(port)
gtlsserver -q -d "$W" "127.0.0.1" "$Q" "$W/key.pem" "$W/cert.pem" >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5

rq_runs() {
    for _ in $(seq "$RUNS"); do
        timed "$RQ" client --quiet --insecure --discard --alpn "$ALPN" "$@" \
            "https://127.0.0.1:$P/file.bin"
    done | median
}
ng_runs() {
    for _ in $(seq "$RUNS"); do
        timed gtlsclient -q --exit-on-all-streams-close 127.0.0.1 "$Q" "https://127.0.0.1:$Q/file.bin"
    done | median
}

rq=$(rq_runs)
ng=$(ng_runs)
mv=$(rq_runs --rebind-port-after $((MB / 2))M)
printf "loopback download, %d MB, median of %d runs (whole process: handshake included)\n" "$MB" "$RUNS"
printf "  roamquic (%s)              %8s MB/s\n" "$ALPN" "$(rate "$rq")"
printf "  ngtcp2 0.12.1 (h3)           %8s MB/s\n" "$(rate "$ng")"
printf "  roamquic with a port change %8s MB/s\n" "$(rate "$mv")"
awk -v a="$ng" -v b="$rq" 'BEGIN {printf "  ratio roamquic / ngtcp2: %.2f\n", a / b}'
