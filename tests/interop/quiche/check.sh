#!/usr/bin/env bash
# Self-test of the quiche hq-interop server (server.js) with its own client
# (client.js), on 127.0.0.1 only. Checks: 1 MB file and generated bodies arrive
# intact (sha256), ".." and missing paths are refused, every connection was
# Retry-validated (tshark counts Retry packets on the wire; falls back to the
# server's own Retry log when tshark cannot capture), the key log holds the real
# handshake secrets (tshark decrypts the captured requests with it), and the
# server exits 0 on SIGTERM. Every step is time-bounded; nothing is left
# running. Exit 0 only if everything held.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
info() { echo "info: $*"; }

tmp="$(mktemp -d /tmp/quiche-check.XXXXXX)"
srv_pid=""
ts_pid=""
cleanup() {
    for p in $ts_pid $srv_pid; do
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null
            for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
            kill -KILL "$p" 2>/dev/null
        fi
    done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! timeout 360 ./setup.sh; then
    echo "FAIL: setup"
    exit 1
fi

# --- certificate (openssl, else certtool) ---
if command -v openssl >/dev/null 2>&1; then
    timeout 30 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1
elif command -v certtool >/dev/null 2>&1; then
    printf 'cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\nexpiration_days = 2\ntls_www_server\nsigning_key\n' >"$tmp/cert.tmpl"
    timeout 30 certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text --outfile "$tmp/key.pem" >/dev/null 2>&1 &&
        timeout 30 certtool --generate-self-signed --load-privkey "$tmp/key.pem" --template "$tmp/cert.tmpl" \
            --outfile "$tmp/cert.pem" >/dev/null 2>&1
fi
if [ ! -s "$tmp/cert.pem" ] || [ ! -s "$tmp/key.pem" ]; then
    echo "FAIL: could not make a certificate (need openssl or certtool)"
    exit 1
fi

mkdir -p "$tmp/www/dir"
head -c 1048576 /dev/urandom >"$tmp/www/1mb"
echo secret >"$tmp/secret"
GEN=1000000      # generated body size requested
GEN_ODD=123457   # a second, odd-sized one

# --- start the server on an ephemeral port ---
timeout 180 node server.js --host 127.0.0.1 --port 0 --root "$tmp/www" \
    --cert "$tmp/cert.pem" --key "$tmp/key.pem" --keylog "$tmp/keys.log" \
    --gen-max 2000000 --allow-migration >"$tmp/srv.out" 2>"$tmp/srv.err" &
srv_pid=$!
port=""
for _ in $(seq 1 100); do
    port="$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]\+\)$/\1/p' "$tmp/srv.out")"
    [ -n "$port" ] && break
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "FAIL: server did not print 'listening' within 10 s: $(head -c 300 "$tmp/srv.err")"
    exit 1
fi
ok "server listening on 127.0.0.1:$port"

# --- packet capture (Retry proof, key log proof) ---
have_cap=0
if command -v tshark >/dev/null 2>&1; then
    timeout 120 tshark -i lo -f "udp port $port" -w "$tmp/cap.pcapng" >"$tmp/ts.out" 2>"$tmp/ts.err" &
    ts_pid=$!
    for _ in $(seq 1 100); do
        grep -q "Capturing on" "$tmp/ts.err" 2>/dev/null && { have_cap=1; break; }
        kill -0 "$ts_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ "$have_cap" = 1 ] || info "tshark could not capture on lo: $(tail -n1 "$tmp/ts.err")"
else
    info "tshark not installed"
fi

client() { timeout 30 node client.js --host 127.0.0.1 --port "$port" --insecure --timeout 20000 "$@"; }
conns=0

# 1. 1 MB file
if out="$(client --path /1mb --out "$tmp/got.1mb" --keylog "$tmp/client1.keys" 2>"$tmp/c1.err")"; then
    want="$(sha256sum "$tmp/www/1mb" | cut -d' ' -f1)"
    got="$(sha256sum "$tmp/got.1mb" | cut -d' ' -f1)"
    if [ "$got" = "$want" ] && [ "$out" = "size 1048576 sha256 $want" ]; then ok "GET /1mb: 1048576 bytes, sha256 matches"; else bad "GET /1mb: sha256 $got != $want ($out)"; fi
else
    bad "GET /1mb failed: $(tail -n1 "$tmp/c1.err")"
fi
conns=$((conns + 1))

# 2. generated bodies; expected sha256 computed independently (BigInt, full
#    64-bit product, as in C: (uint8_t)(((uint64_t)off * 2654435761u) >> 13))
for n in $GEN $GEN_ODD; do
    want="$(timeout 60 node -e '
        const n = Number(process.argv[1]); const b = Buffer.alloc(n);
        for (let i = 0; i < n; i++) b[i] = Number(((BigInt(i) * 2654435761n) >> 13n) & 0xffn);
        process.stdout.write(require("crypto").createHash("sha256").update(b).digest("hex"));' "$n")"
    if out="$(client --path "/$n" 2>"$tmp/cg.err")"; then
        if [ "$out" = "size $n sha256 $want" ]; then ok "GET /$n (generated): sha256 matches"; else bad "GET /$n: got '$out', want sha256 $want"; fi
    else
        bad "GET /$n failed: $(tail -n1 "$tmp/cg.err")"
    fi
    conns=$((conns + 1))
done

# 3. refusals: "..", missing file, over --gen-max, a directory
for p in /../secret /dir/../1mb /nope /2000001 /dir; do
    if out="$(client --path "$p" 2>/dev/null)"; then
        bad "GET $p was answered ($out), expected a refusal"
    else
        ok "GET $p refused"
    fi
    conns=$((conns + 1))
done
grep -q 'refused stream 0: bad path "/../secret"' "$tmp/srv.err" && ok "server logged the '..' refusal" || bad "no '..' refusal in server log"

# 4. NAT rebinding (informational): the client's port changes mid-transfer
if out="$(client --path /2000000 --rebind-after 300000 --rebind-soft 2>/dev/null)"; then
    info "soft rebinding (old path still delivering): transfer completed: $(echo "$out" | tail -n1)"
else
    info "soft rebinding: transfer did not complete"
fi
conns=$((conns + 1))

# --- stop the capture, then the server ---
if [ -n "$ts_pid" ]; then
    sleep 0.5
    kill -INT "$ts_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$ts_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$ts_pid" 2>/dev/null
    wait "$ts_pid" 2>/dev/null
    ts_pid=""
fi
kill -TERM "$srv_pid"
rc=""
for _ in $(seq 1 50); do
    if ! kill -0 "$srv_pid" 2>/dev/null; then wait "$srv_pid"; rc=$?; break; fi
    sleep 0.1
done
if [ "$rc" = 0 ]; then ok "server exited 0 on SIGTERM"; else bad "server did not exit cleanly on SIGTERM (rc=${rc:-still running})"; fi
srv_pid=""

# --- Retry ---
srv_retries="$(grep -c '^quiche-server: retry ' "$tmp/srv.err")"
srv_conns="$(grep -c '^quiche-server: connection from ' "$tmp/srv.err")"
if [ "$have_cap" = 1 ] && [ -s "$tmp/cap.pcapng" ]; then
    wire_retries="$(timeout 60 tshark -r "$tmp/cap.pcapng" -Y 'quic.long.packet_type == 3' 2>/dev/null | wc -l)"
    if [ "$wire_retries" -ge "$conns" ] && [ "$srv_conns" -ge "$conns" ]; then
        ok "Retry on the wire: $wire_retries Retry packets for $srv_conns connections"
    else
        bad "Retry on the wire: $wire_retries Retry packets, $srv_conns connections, $conns expected"
    fi
else
    if [ "$srv_retries" -ge "$conns" ]; then ok "Retry (server log, no capture): $srv_retries Retries"; else bad "server log shows $srv_retries Retries for $conns connections"; fi
fi

# --- key log ---
if [ -s "$tmp/keys.log" ] && ! grep -qvE '^(CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0|EXPORTER_SECRET|CLIENT_EARLY_TRAFFIC_SECRET) [0-9a-f]{64} [0-9a-f]{64,96}$' "$tmp/keys.log"; then
    lines="$(wc -l <"$tmp/keys.log")"
    if [ "$lines" -eq $((5 * srv_conns)) ] && grep -qxFf "$tmp/client1.keys" "$tmp/keys.log" &&
        [ "$(grep -cxFf "$tmp/client1.keys" "$tmp/keys.log")" -eq "$(wc -l <"$tmp/client1.keys")" ]; then
        ok "key log: $lines NSS lines (5 per connection), includes the client's own secrets for /1mb"
    else
        bad "key log: $lines lines for $srv_conns connections, or client secrets missing"
    fi
else
    bad "key log missing or not in NSS format"
fi
# Decrypt the capture with the key log. quiche's client sends a fresh
# ClientHello (new client_random) after a Retry and Wireshark 4.0 keys the
# connection on the first one, so relabel: i-th first-ClientHello random <->
# i-th connection's block of 5 lines (clients ran one after another).
if [ "$have_cap" = 1 ] && [ -s "$tmp/cap.pcapng" ] && [ -s "$tmp/keys.log" ]; then
    timeout 60 tshark -r "$tmp/cap.pcapng" -Y 'tls.handshake.type == 1' -T fields -e tls.handshake.random 2>/dev/null |
        awk 'NF && !seen[$1]++' >"$tmp/randoms"
    awk 'NR == FNR { r[FNR] = $1; next } { print $1, r[int((FNR - 1) / 5) + 1], $3 }' "$tmp/randoms" "$tmp/keys.log" >"$tmp/keys.relabel"
    reqs="$(timeout 60 tshark -r "$tmp/cap.pcapng" -o "tls.keylog_file:$tmp/keys.relabel" -Y 'quic.stream_data' \
        -T fields -e quic.stream_data 2>/dev/null | grep -c '^47455420')" # "GET "
    if [ "$reqs" -ge "$conns" ]; then ok "tshark decrypted $reqs hq requests with the key log"; else bad "tshark decrypted only $reqs of $conns requests with the key log"; fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
